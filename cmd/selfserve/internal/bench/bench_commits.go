package bench

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// The series of a component's /metrics that count its store's commits: one
// sample per durable commit, and one per call that commit carried (above the
// commits when group commit shares one among several calls).
const (
	benchCommitsSeries = "selfserve_store_commit_seconds"
	benchCallsSeries   = "selfserve_store_committed_calls_total"
)

// benchCommitCount is what a store had committed when it was read.
type benchCommitCount struct{ commits, calls float64 }

// BenchCommits is what a load made one process's store commit.
type BenchCommits struct {
	// Durable commits per operation.
	PerOp float64 `json:"commitsPerOp"`
	// Calls (write transactions) a commit carried, on average.
	CallsPerCommit float64 `json:"callsPerCommit"`
}

// benchReadCommits scrapes each component's /metrics (its --metrics-addr)
// for its store's commit counters; false when one cannot be read.
func benchReadCommits(ctx context.Context, urls map[string]string) (map[string]benchCommitCount, bool) {
	if len(urls) == 0 {
		return nil, false
	}
	out := map[string]benchCommitCount{}
	for name, url := range urls {
		c, err := benchScrapeCommits(ctx, url)
		if err != nil {
			return nil, false
		}
		out[name] = c
	}
	return out, true
}

func benchScrapeCommits(ctx context.Context, url string) (benchCommitCount, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return benchCommitCount{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return benchCommitCount{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return benchCommitCount{}, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return benchCommitCount{}, fmt.Errorf("GET %s: %w", url, err)
	}
	var c benchCommitCount
	if f, ok := families[benchCommitsSeries]; ok {
		for _, m := range f.GetMetric() {
			c.commits += float64(m.GetHistogram().GetSampleCount())
		}
	}
	if f, ok := families[benchCallsSeries]; ok {
		for _, m := range f.GetMetric() {
			c.calls += m.GetCounter().GetValue()
		}
	}
	return c, nil
}

// benchCommitsPerOp is what each store committed between two readings, per
// operation of a load of ops operations; a store that committed nothing is
// left out.
func benchCommitsPerOp(before, after map[string]benchCommitCount, ops int) map[string]BenchCommits {
	out := map[string]BenchCommits{}
	for name, a := range after {
		b := before[name]
		commits, calls := a.commits-b.commits, a.calls-b.calls
		if commits <= 0 || ops == 0 {
			continue
		}
		out[name] = BenchCommits{PerOp: commits / float64(ops), CallsPerCommit: calls / commits}
	}
	return out
}
