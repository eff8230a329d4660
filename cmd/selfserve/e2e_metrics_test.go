package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// scrape reads a Prometheus text page into series → value ("name{labels}").
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("a metrics line without a value: %q", line)
		}
		out[line[:i]] = v
	}
	return out
}

// sum adds the series of name whose labels hold every pair of want.
func sum(m map[string]float64, name string, want ...string) float64 {
	total := 0.0
	for series, v := range m {
		n, labels, _ := strings.Cut(series, "{")
		if n != name {
			continue
		}
		ok := true
		for i := 0; i+1 < len(want); i += 2 {
			ok = ok && strings.Contains(labels, want[i]+`="`+want[i+1]+`"`)
		}
		if ok {
			total += v
		}
	}
	return total
}

// TestEndToEndMetrics scrapes the gateway's /metrics around a purchase and
// an assignment: every series is there, and the product's counters move by
// what was done.
func TestEndToEndMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	s := &shop{t: t, r: startDev(t, binary(t), t.TempDir())}
	maxTok := s.r.tokens["contoso/max"]
	plain, _, _, _, _ := s.products(maxTok)
	profile, _ := s.wallet(maxTok, "4242424242424242")

	before := scrape(t, s.r.url+"/metrics")
	sub := s.ok("POST", "/v1/organizations/contoso/subscriptions:purchase", maxTok, buy(plain, profile, 3, `,"requestId":"metrics-1"`))
	name := sub["name"].(string)
	s.ok("POST", "/v1/organizations/contoso/licenses/"+name[strings.LastIndex(name, "/")+1:]+":assign", maxTok,
		`{"users":["organizations/contoso/users/max","organizations/contoso/users/nora"]}`)
	s.fails("POST", "/v1/organizations/contoso/subscriptions:purchase", s.r.tokens["contoso/gus"], buy(plain, profile, 1, ""), 400, "GUEST_USER")

	var after map[string]float64
	deadline := time.Now().Add(5 * time.Second)
	for {
		after = scrape(t, s.r.url+"/metrics")
		if sum(after, "selfserve_outbox_pending") == 0 || time.Now().After(deadline) {
			break // the audit events have reached commerce
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, name := range []string{
		"grpc_server_started_total", "grpc_server_handled_total", "grpc_server_handling_seconds_bucket",
		"grpc_client_handled_total", "grpc_client_handling_seconds_bucket",
		"selfserve_http_requests_total", "selfserve_http_request_duration_seconds_bucket",
		"selfserve_store_commit_seconds_bucket", "selfserve_store_committed_calls_total", "selfserve_store_size_bytes", "selfserve_store_in_use_bytes",
		"selfserve_outbox_pending", "selfserve_pending_steps", "selfserve_webhook_deliveries_queued",
		"selfserve_purchases_total", "selfserve_charges_total", "selfserve_license_assignments_total",
		"go_goroutines", "process_resident_memory_bytes",
	} {
		found := false
		for series := range after {
			found = found || strings.HasPrefix(series, name+"{") || series == name
		}
		if !found {
			t.Errorf("no series %s", name)
		}
	}
	moved := func(name string, want float64, labels ...string) {
		t.Helper()
		if d := sum(after, name, labels...) - sum(before, name, labels...); d != want {
			t.Errorf("%s%v moved by %v, want %v", name, labels, d, want)
		}
	}
	moved("selfserve_purchases_total", 1, "kind", "purchase", "outcome", "ok")
	moved("selfserve_purchases_total", 1, "kind", "purchase", "outcome", "refused")
	moved("selfserve_charges_total", 1, "outcome", "paid")
	moved("selfserve_license_assignments_total", 2, "op", "assign")
	moved("grpc_server_handled_total", 1, "grpc_method", "PurchaseSubscription", "grpc_code", "OK")
	moved("grpc_server_handled_total", 1, "grpc_method", "Charge", "grpc_code", "OK")
	moved("selfserve_http_requests_total", 1, "route", "/v1/{parent=organizations/*}/subscriptions:purchase", "code", "200")
	for _, store := range []string{"licensing", "commerce", "billing"} {
		if sum(after, "selfserve_store_size_bytes", "store", store, "backend", "bbolt") <= 0 {
			t.Errorf("no size for the %s store", store)
		}
		if sum(after, "selfserve_store_commit_seconds_count", "store", store) <= sum(before, "selfserve_store_commit_seconds_count", "store", store) {
			t.Errorf("the %s store's commits did not move", store)
		}
	}
	if sum(after, "selfserve_http_requests_total", "route", "unmatched") != sum(before, "selfserve_http_requests_total", "route", "unmatched") {
		t.Error("a routed request counted as unmatched")
	}
	for series := range after {
		if strings.Contains(series, "contoso") || strings.Contains(series, "/subscriptions/s-") {
			t.Errorf("a series names a tenant or a resource: %s", series)
		}
	}
}

// TestMetricsAddr: a service on its own (as in docker-compose.yaml) answers
// /metrics on --metrics-addr.
func TestMetricsAddr(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := binary(t)
	dir := t.TempDir()
	cmd := exec.Command(bin, "licensing", "--data-dir", dir, "--licensing-addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0", "--log-level", "info")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	addrs := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		re := regexp.MustCompile(`msg="metrics serving".*addr=(\S+)`)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				addrs <- m[1]
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	var addr string
	select {
	case addr = <-addrs:
	case <-time.After(20 * time.Second):
		t.Fatal("licensing did not say where its metrics are")
	}
	// The methods' series appear once the server serves, a moment after the
	// metrics listener opens.
	var m map[string]float64
	found := false
	for deadline := time.Now().Add(10 * time.Second); !found && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		m = scrape(t, fmt.Sprintf("http://%s/metrics", addr))
		for series := range m {
			found = found || strings.HasPrefix(series, "grpc_server_handled_total{") && strings.Contains(series, "selfserve.licensing.v1")
		}
	}
	if !found {
		t.Error("the licensing methods' series are not initialised")
	}
	if sum(m, "selfserve_store_size_bytes", "store", "licensing") <= 0 {
		t.Errorf("no licensing store size in %d series", len(m))
	}
	if sum(m, "grpc_server_started_total", "grpc_service", "selfserve.licensing.v1.LicensingService") != 0 {
		t.Error("a call was counted before any was made")
	}
}
