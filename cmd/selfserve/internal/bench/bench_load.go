package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// benchWorker is one closed-loop caller of a load: it sends its next
// operation when the previous one answered.
type benchWorker struct {
	id int
	n  int // operations started by this worker, warm-up included: a source of unique ids

	ops      []time.Duration // latency of each successful operation
	reqs     []time.Duration // latency of each successful request within them
	errors   int
	firstErr error
}

// timed runs one request of an operation and records its latency.
func (w *benchWorker) timed(fn func() error) error {
	start := time.Now()
	if err := fn(); err != nil {
		return err
	}
	w.reqs = append(w.reqs, time.Since(start))
	return nil
}

// benchOp is one operation of a load: one or more requests through w.timed.
type benchOp func(ctx context.Context, w *benchWorker) error

// benchLoad is a load to run: op at concurrency callers, each operation
// being requests requests.
type benchLoad struct {
	name     string // e.g. assign/json
	system   string // raw, small or large
	conc     int
	requests int
	op       benchOp
	// procs are the processes that serve the load, by name, whose CPU time
	// is read before and after; empty when unknown.
	procs map[string]int
	// metrics are the /metrics URLs of the processes that serve the load,
	// by name, whose store commits are counted before and after; empty
	// when unknown.
	metrics map[string]string
}

// benchResult is what a load measured. Latencies are in milliseconds.
type benchResult struct {
	Name          string  `json:"name"`
	System        string  `json:"system"`
	Concurrency   int     `json:"concurrency"`
	RequestsPerOp int     `json:"requestsPerOp"`
	Ops           int     `json:"ops"`
	Errors        int     `json:"errors"`
	FirstError    string  `json:"firstError,omitempty"`
	Seconds       float64 `json:"seconds"`
	OpsPerSec     float64 `json:"opsPerSec"`
	P50Ms         float64 `json:"p50Ms"`
	P99Ms         float64 `json:"p99Ms"`
	// The same per request (equal to the above when an operation is one request).
	ReqPerSec float64 `json:"requestsPerSec"`
	ReqP50Ms  float64 `json:"requestP50Ms"`
	ReqP99Ms  float64 `json:"requestP99Ms"`
	// Server CPU (user+system of the serving processes) per operation, in
	// microseconds; null when the processes are unknown.
	ServerCPUUsPerOp *float64 `json:"serverCpuUsPerOp"`
	// The same for each serving process.
	CPUByProcess map[string]float64 `json:"cpuUsPerOpByProcess,omitempty"`
	// The durable commits of each serving process's store per operation,
	// and how many calls a commit carried.
	CommitsByProcess map[string]BenchCommits `json:"commitsByProcess,omitempty"`
	// The bench process's own CPU per operation (the load generator).
	ClientCPUUsPerOp float64 `json:"clientCpuUsPerOp"`
	// Ratios to the raw chain at the same concurrency: per operation for
	// loads of assign+unassign cycles, per request for the others.
	Reference string   `json:"reference,omitempty"`
	OpsRatio  *float64 `json:"opsRatio"`
	P50Ratio  *float64 `json:"p50Ratio"`
	P99Ratio  *float64 `json:"p99Ratio"`
	CPURatio  *float64 `json:"cpuRatio"`
}

// benchLimits bound every load.
type benchLimits struct {
	duration, warmup time.Duration
	maxOps           int
}

// run drives the load: a warm-up whose figures are dropped, then the measured
// run, each bounded by its duration and lim.maxOps operations.
func (l benchLoad) run(ctx context.Context, lim benchLimits) benchResult {
	workers := make([]*benchWorker, l.conc)
	for i := range workers {
		workers[i] = &benchWorker{id: i}
	}
	if lim.warmup > 0 {
		l.drive(ctx, workers, lim.warmup, lim.maxOps)
		for _, w := range workers {
			w.ops, w.reqs, w.errors, w.firstErr = w.ops[:0], w.reqs[:0], 0, nil
		}
	}
	commits0, commitsOK := benchReadCommits(ctx, l.metrics)
	cpu0, cpuOK := benchSnapshot(l.procs)
	self0, _ := benchSelfCPU()
	elapsed := l.drive(ctx, workers, lim.duration, lim.maxOps)
	self1, _ := benchSelfCPU()
	cpu1, ok := benchSnapshot(l.procs)
	cpuOK = cpuOK && ok
	commits1, ok := benchReadCommits(ctx, l.metrics)
	commitsOK = commitsOK && ok

	r := benchResult{Name: l.name, System: l.system, Concurrency: l.conc, RequestsPerOp: l.requests, Seconds: elapsed.Seconds()}
	var ops, reqs []time.Duration
	for _, w := range workers {
		ops = append(ops, w.ops...)
		reqs = append(reqs, w.reqs...)
		r.Errors += w.errors
		if w.firstErr != nil && r.FirstError == "" {
			r.FirstError = w.firstErr.Error()
		}
	}
	r.Ops = len(ops)
	if elapsed > 0 {
		r.OpsPerSec = float64(len(ops)) / elapsed.Seconds()
		r.ReqPerSec = float64(len(reqs)) / elapsed.Seconds()
	}
	r.P50Ms, r.P99Ms = benchPercentile(ops, 0.50), benchPercentile(ops, 0.99)
	r.ReqP50Ms, r.ReqP99Ms = benchPercentile(reqs, 0.50), benchPercentile(reqs, 0.99)
	if r.Ops > 0 {
		if cpuOK {
			var sum time.Duration
			r.CPUByProcess = map[string]float64{}
			for name := range l.procs {
				d := cpu1[name] - cpu0[name]
				sum += d
				r.CPUByProcess[name] = float64(d.Microseconds()) / float64(r.Ops)
			}
			v := float64(sum.Microseconds()) / float64(r.Ops)
			r.ServerCPUUsPerOp = &v
		}
		r.ClientCPUUsPerOp = float64((self1 - self0).Microseconds()) / float64(r.Ops)
		if commitsOK {
			r.CommitsByProcess = benchCommitsPerOp(commits0, commits1, r.Ops)
		}
	}
	return r
}

// drive runs the workers until d has passed, maxOps operations were started
// or ctx is done, and returns how long it took the last one to finish.
func (l benchLoad) drive(ctx context.Context, workers []*benchWorker, d time.Duration, maxOps int) time.Duration {
	var started atomic.Int64
	start := time.Now()
	end := start.Add(d)
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Go(func() {
			for ctx.Err() == nil && time.Now().Before(end) && started.Add(1) <= int64(maxOps) {
				w.n++
				t := time.Now()
				if err := l.op(ctx, w); err != nil {
					w.errors++
					if w.firstErr == nil {
						w.firstErr = err
					}
					continue
				}
				w.ops = append(w.ops, time.Since(t))
			}
		})
	}
	wg.Wait()
	return time.Since(start)
}

// benchPercentile is the nearest-rank percentile p of ds, in milliseconds; it
// sorts ds.
func benchPercentile(ds []time.Duration, p float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	i := int(math.Ceil(p*float64(len(ds)))) - 1
	i = max(0, min(i, len(ds)-1))
	return float64(ds[i].Microseconds()) / 1000
}

// benchHTTP is the HTTP client of every JSON load, raw or product: one
// keep-alive connection per caller.
type benchHTTP struct{ hc *http.Client }

func newBenchHTTP() *benchHTTP {
	t := &http.Transport{MaxIdleConns: 512, MaxIdleConnsPerHost: 256, IdleConnTimeout: time.Minute, DisableCompression: true}
	return &benchHTTP{hc: &http.Client{Transport: t, Timeout: 30 * time.Second}}
}

// benchStatusError is an answer that is not 2xx.
type benchStatusError struct {
	method, url string
	code        int
	body        string
}

func (e *benchStatusError) Error() string {
	return fmt.Sprintf("%s %s: %d %s", e.method, e.url, e.code, strings.TrimSpace(e.body))
}

// do sends one request and reads the whole answer; a status that is not
// 2xx is an error.
func (c *benchHTTP) do(ctx context.Context, method, url, token string, body []byte) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		return raw, &benchStatusError{method: method, url: url, code: resp.StatusCode, body: string(raw[:min(len(raw), 300)])}
	}
	return raw, nil
}

// benchCycle is the assign load over JSON, raw or product: each operation
// assigns the worker's own user a license of pool and takes it back.
func benchCycle(c *benchHTTP, base, pool, token string, users []string) benchOp {
	bodies := make([][]byte, len(users))
	for i, u := range users {
		bodies[i] = fmt.Appendf(nil, `{"users":[%q]}`, u)
	}
	assign, unassign := base+"/v1/"+pool+":assign", base+"/v1/"+pool+":unassign"
	return func(ctx context.Context, w *benchWorker) error {
		body := bodies[w.id%len(bodies)]
		if err := w.timed(func() error { _, err := c.do(ctx, http.MethodPost, assign, token, body); return err }); err != nil {
			return err
		}
		return w.timed(func() error { _, err := c.do(ctx, http.MethodPost, unassign, token, body); return err })
	}
}

// benchGet is a load of one GET.
func benchGet(c *benchHTTP, url, token string) benchOp {
	return func(ctx context.Context, w *benchWorker) error {
		return w.timed(func() error { _, err := c.do(ctx, http.MethodGet, url, token, nil); return err })
	}
}

// benchCall is a load of one call made by fn (a gRPC call, say).
func benchCall(fn func(ctx context.Context, w *benchWorker) error) benchOp {
	return func(ctx context.Context, w *benchWorker) error {
		return w.timed(func() error {
			cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			return fn(cctx, w)
		})
	}
}
