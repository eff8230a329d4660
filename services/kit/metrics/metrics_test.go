package metrics

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestGauges(t *testing.T) {
	v := 7.0
	remove := AddGauge(Gauge{Desc: OutboxPending, Labels: []string{"test-store", "events"}, Read: func() (float64, bool) { return v, true }})
	// A second handle on the same store must not repeat the series.
	removeTwin := AddGauge(Gauge{Desc: OutboxPending, Labels: []string{"test-store", "events"}, Read: func() (float64, bool) { return v, true }})
	closed := AddGauge(Gauge{Desc: StoreSize, Labels: []string{"test-closed", "bbolt"}, Read: func() (float64, bool) { return 0, false }})
	defer closed()

	want := `
# HELP selfserve_outbox_pending Messages written to an outbox and not yet acknowledged by their receiver.
# TYPE selfserve_outbox_pending gauge
selfserve_outbox_pending{outbox="events",store="test-store"} 7
`
	if err := testutil.GatherAndCompare(Registry, strings.NewReader(want), "selfserve_outbox_pending"); err != nil {
		t.Error(err)
	}
	v = 3
	if err := testutil.GatherAndCompare(Registry, strings.NewReader(strings.Replace(want, "} 7", "} 3", 1)), "selfserve_outbox_pending"); err != nil {
		t.Errorf("the gauge is not read at each scrape: %v", err)
	}
	remove()
	removeTwin()
	if n, err := testutil.GatherAndCount(Registry, "selfserve_outbox_pending", "selfserve_store_size_bytes"); err != nil || n != 0 {
		t.Errorf("after removal (and for a closed store): %d series, %v", n, err)
	}
}

func TestCommitsAndHandler(t *testing.T) {
	before := testutil.ToFloat64(StoreCommitCalls.WithLabelValues("test", "bbolt"))
	ObserveCommit("test", "bbolt", time.Now().Add(-2*time.Millisecond), 5)
	if got := testutil.ToFloat64(StoreCommitCalls.WithLabelValues("test", "bbolt")) - before; got != 5 {
		t.Errorf("a group of 5 counted %v calls", got)
	}
	rec := httptest.NewRecorder()
	Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{`selfserve_store_commit_seconds_bucket{backend="bbolt",store="test",le="0.0025"} `, "go_goroutines ", "process_resident_memory_bytes "} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
