package bench

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// benchGoal is one target of the issue, as measured.
type benchGoal struct {
	Name      string   `json:"name"`
	Measured  *float64 `json:"measured"`
	Op        string   `json:"op"` // <= or >=
	Threshold float64  `json:"threshold"`
	Unit      string   `json:"unit"`
	Result    string   `json:"result"` // PASS, FAIL, SKIP (not measured in this run)
	Detail    string   `json:"detail,omitempty"`
}

// find returns the load of name on system at concurrency c.
func (r *Report) find(name, system string, c int) *benchResult {
	for i := range r.Loads {
		l := &r.Loads[i]
		if l.Name == name && l.System == system && l.Concurrency == c && l.Ops > 0 {
			return l
		}
	}
	return nil
}

// goalAdder records one target (see goals).
type goalAdder func(name, op string, threshold float64, unit string, measured *float64, detail, skip string)

// purchaseGoals are issue 16's targets for a purchase at the top
// concurrency: half the raw chain's requests/s, a p99 within twice the raw
// chain's, 400 µs of CPU summed over the four processes.
func (r *Report) purchaseGoals(add goalAdder, primary string, top int) {
	p := r.find("purchase/json", primary, top)
	var ops, p99, cpu *float64
	d, dc := "", ""
	if p != nil {
		ops, p99, cpu = p.OpsRatio, p.P99Ratio, p.ServerCPUUsPerOp
		d = fmt.Sprintf("%.0f purchases/s vs raw %.0f requests/s; p99 %.2f vs raw %.2f ms", p.OpsPerSec, p.OpsPerSec/benchDeref(p.OpsRatio), p.P99Ms, p.P99Ms/benchDeref(p.P99Ratio))
		dc = benchByProcess(p.CPUByProcess)
		if raw := r.find("raw-chain-purchase/json", "raw", top); raw != nil && raw.ServerCPUUsPerOp != nil {
			// The floor: the purchase's hops and commits with no logic.
			dc += fmt.Sprintf("; the raw purchase shape %.0f µs at %.0f purchases/s", *raw.ServerCPUUsPerOp, raw.OpsPerSec)
		}
	}
	notRun := "not measured in this run"
	add(fmt.Sprintf("purchase (three services) c=%d: ops/s / raw chain requests/s", top), ">=", 0.5, "x", ops, d, notRun)
	add(fmt.Sprintf("purchase (three services) c=%d: p99 / raw chain request p99", top), "<=", 2, "x", p99, d, notRun)
	add(fmt.Sprintf("purchase (three services) c=%d: CPU per purchase, four processes", top), "<=", 400, "µs", cpu, dc, notRun)
}

// listGoals are issue 16's targets for the first page of subscriptions at
// c=16 over JSON: 0.6 of the raw chain's requests/s, and the gateway's CPU
// a page at most 1.9 raw-chain requests' CPU, half of what it was with
// protojson writing the page (3.9 in the run of 2026-12-07).
func (r *Report) listGoals(add goalAdder, primary string) {
	const c = 16
	l := r.find("list-subscriptions/json", primary, c)
	raw := r.rawAt(c)
	var ops, gw *float64
	d, dg := "", ""
	if l != nil {
		ops = l.OpsRatio
		d = fmt.Sprintf("%.0f pages/s vs raw %.0f requests/s", l.OpsPerSec, l.OpsPerSec/benchDeref(l.OpsRatio))
		if g, ok := l.CPUByProcess["gateway"]; ok && raw != nil && raw.ServerCPUUsPerOp != nil && raw.RequestsPerOp > 0 {
			perReq := *raw.ServerCPUUsPerOp / float64(raw.RequestsPerOp)
			gw = benchRatio(g, perReq)
			dg = fmt.Sprintf("gateway %.0f µs a page vs raw chain %.0f µs a request", g, perReq)
		}
		if rl := r.find("raw-chain-list/json", "raw", c); rl != nil && rl.ServerCPUUsPerOp != nil {
			// The floor: the list's hops and reads with no logic.
			d += fmt.Sprintf("; the raw list shape %.0f pages/s, %.0f µs a page (list %.0f µs)", rl.OpsPerSec, *rl.ServerCPUUsPerOp, benchDeref(l.ServerCPUUsPerOp))
		}
	}
	notRun := "not measured in this run"
	add(fmt.Sprintf("list subscriptions c=%d (JSON): ops/s / raw chain requests/s", c), ">=", 0.6, "x", ops, d, notRun)
	add(fmt.Sprintf("list subscriptions c=%d (JSON): gateway CPU a page / raw chain CPU a request", c), "<=", 1.9, "x", gw, dg, notRun)
}

// storeGoal is issue 16's target for the large store's size: at most 150
// bytes of licensing's pages in use an assignment, everything included.
func (r *Report) storeGoal(add goalAdder, assignments int) {
	var per *float64
	d := ""
	for _, pre := range r.Prefill {
		if pre.System == "large" && pre.Assignments > 0 && pre.LicensingInUse > 0 {
			v := float64(pre.LicensingInUse) / float64(pre.Assignments)
			per = &v
			d = fmt.Sprintf("%.1f MB of pages in use after the prefill: %d users, %d pools, %d assignments", float64(pre.LicensingInUse)/(1<<20), pre.Users, pre.Subscriptions, pre.Assignments)
		}
	}
	add(fmt.Sprintf("large store: licensing bytes in use per assignment at %d assignments", assignments), "<=", 150, "B", per, d, "no large store in this run")
}

// benchByProcess lists per-process CPU figures in the components' order.
func benchByProcess(m map[string]float64) string {
	var parts []string
	for _, name := range components {
		if v, ok := m[name]; ok {
			parts = append(parts, fmt.Sprintf("%s %.0f", name, v))
		}
	}
	return strings.Join(parts, ", ") + " µs"
}

// rawAt is the raw chain's load at concurrency c, or at the nearest measured.
func (r *Report) rawAt(c int) *benchResult {
	var best *benchResult
	for i := range r.Loads {
		l := &r.Loads[i]
		if l.Name != "raw-chain/json" || l.Ops == 0 {
			continue
		}
		if best == nil || benchAbs(l.Concurrency-c) < benchAbs(best.Concurrency-c) {
			best = l
		}
	}
	return best
}

func benchAbs(n int) int { return max(n, -n) }

func benchRatio(a, b float64) *float64 {
	if b == 0 {
		return nil
	}
	v := a / b
	return &v
}

// ratios sets every load's figures relative to the raw chain: per operation
// for loads whose operation is an assign+unassign cycle, as the chain's is,
// per request for the others.
func (r *Report) ratios() {
	for i := range r.Loads {
		l := &r.Loads[i]
		raw := r.rawAt(l.Concurrency)
		if raw == nil || l.Ops == 0 {
			continue
		}
		if l.RequestsPerOp == raw.RequestsPerOp {
			l.Reference = fmt.Sprintf("raw-chain/json c=%d, per operation", raw.Concurrency)
			l.OpsRatio, l.P50Ratio, l.P99Ratio = benchRatio(l.OpsPerSec, raw.OpsPerSec), benchRatio(l.P50Ms, raw.P50Ms), benchRatio(l.P99Ms, raw.P99Ms)
			if l.ServerCPUUsPerOp != nil && raw.ServerCPUUsPerOp != nil {
				l.CPURatio = benchRatio(*l.ServerCPUUsPerOp, *raw.ServerCPUUsPerOp)
			}
			continue
		}
		per := float64(raw.RequestsPerOp) / float64(l.RequestsPerOp)
		l.Reference = fmt.Sprintf("raw-chain/json c=%d, per request", raw.Concurrency)
		l.OpsRatio, l.P50Ratio, l.P99Ratio = benchRatio(l.OpsPerSec, raw.ReqPerSec), benchRatio(l.P50Ms, raw.ReqP50Ms), benchRatio(l.P99Ms, raw.ReqP99Ms)
		if l.ServerCPUUsPerOp != nil && raw.ServerCPUUsPerOp != nil {
			l.CPURatio = benchRatio(*l.ServerCPUUsPerOp, *raw.ServerCPUUsPerOp/per)
		}
	}
}

// goals evaluates the targets.
func (r *Report) goals(s benchSettings) {
	primary := "small"
	if s.Addr != "" {
		primary = "target"
	}
	top := s.Concurrency[len(s.Concurrency)-1]
	low := s.Concurrency[0]
	add := func(name, op string, threshold float64, unit string, measured *float64, detail, skip string) {
		g := benchGoal{Name: name, Op: op, Threshold: threshold, Unit: unit, Measured: measured, Detail: detail}
		switch {
		case measured == nil:
			g.Result, g.Detail = "SKIP", skip
		case op == "<=" && *measured <= threshold, op == ">=" && *measured >= threshold:
			g.Result = "PASS"
		default:
			g.Result = "FAIL"
		}
		r.Targets = append(r.Targets, g)
	}
	notRun := "not measured in this run"

	a := r.find("assign/json", primary, top)
	var m1, m2 *float64
	var d string
	if a != nil {
		m1, m2 = a.OpsRatio, a.P99Ratio
		d = fmt.Sprintf("%.0f vs raw %.0f ops/s; p99 %.2f vs raw %.2f ms", a.OpsPerSec, a.OpsPerSec/benchDeref(a.OpsRatio), a.P99Ms, a.P99Ms/benchDeref(a.P99Ratio))
	}
	add(fmt.Sprintf("JSON-edge assign c=%d: ops/s / raw chain", top), ">=", 0.5, "x", m1, d, notRun)
	add(fmt.Sprintf("JSON-edge assign c=%d: p99 / raw chain p99", top), "<=", 2, "x", m2, d, notRun)

	a = r.find("assign/json", primary, low)
	m1, m2, d = nil, nil, ""
	if a != nil {
		m1, m2 = a.P50Ratio, a.P99Ratio
		d = fmt.Sprintf("p50 %.2f vs raw %.2f ms; p99 %.2f vs raw %.2f ms", a.P50Ms, a.P50Ms/benchDeref(a.P50Ratio), a.P99Ms, a.P99Ms/benchDeref(a.P99Ratio))
	}
	add(fmt.Sprintf("JSON-edge assign c=%d: p50 / raw chain p50", low), "<=", 2, "x", m1, d, notRun)
	add(fmt.Sprintf("JSON-edge assign c=%d: p99 / raw chain p99", low), "<=", 2, "x", m2, d, notRun)

	r.purchaseGoals(add, primary, top)
	r.listGoals(add, primary)
	g, e := r.find("get-organization/grpc", primary, top), r.find("echo/grpc", "raw", top)
	m1, d = nil, ""
	if g != nil && e != nil {
		m1 = benchRatio(g.OpsPerSec, e.OpsPerSec)
		d = fmt.Sprintf("GetOrganization %.0f vs echo %.0f ops/s", g.OpsPerSec, e.OpsPerSec)
	}
	add(fmt.Sprintf("read RPC (GetOrganization over gRPC) c=%d: ops/s / plain gRPC echo", top), ">=", 0.8, "x", m1, d, notRun)

	ch := r.find("echo-chain/grpc", "raw", top)
	m1, d = nil, ""
	if ch != nil && e != nil && ch.ServerCPUUsPerOp != nil && e.ServerCPUUsPerOp != nil {
		m1 = benchRatio(*ch.ServerCPUUsPerOp, *e.ServerCPUUsPerOp)
		d = fmt.Sprintf("%.1f vs %.1f µs CPU per request", *ch.ServerCPUUsPerOp, *e.ServerCPUUsPerOp)
	}
	add(fmt.Sprintf("interceptor chain c=%d: CPU per request / bare echo", top), "<=", 1.25, "x", m1, d, notRun)

	mid := 1
	ls, ll := r.find("list-subscriptions/json", primary, mid), r.find("list-subscriptions/json", "large", mid)
	m1, d = nil, ""
	if ls != nil && ll != nil {
		m1 = benchRatio(ll.P99Ms, ls.P99Ms)
		d = fmt.Sprintf("p99 %.2f ms with %d subscriptions vs %.2f ms with %d", ll.P99Ms, s.LargeSize, ls.P99Ms, s.Size)
	}
	add(fmt.Sprintf("list subscriptions c=%d: p99 at %d / p99 at %d subscriptions", mid, s.LargeSize, s.Size), "<=", 1.5, "x", m1, d, "no large store in this run")

	r.storeGoal(add, s.LargeAssignments)
	as, al := r.find("assign/json", primary, top), r.find("assign/json", "large", top)
	m1, d = nil, ""
	if as != nil && al != nil {
		m1 = benchRatio(al.P99Ms, as.P99Ms)
		d = fmt.Sprintf("p99 %.2f ms with %d assignments vs %.2f ms without", al.P99Ms, s.LargeAssignments, as.P99Ms)
	}
	add(fmt.Sprintf("JSON-edge assign c=%d: p99 with %d assignments / empty store", top, s.LargeAssignments), "<=", 2, "x", m1, d, "no large store in this run")

	for _, name := range components {
		var m *float64
		for _, c := range r.Components {
			if c.System == primary && c.Name == name {
				m = c.RSSIdleMB
			}
		}
		add("idle RSS of "+name, "<=", 40, "MB", m, "", "memory unknown (give --pids)")
	}

	var dev *float64
	if r.Dev != nil {
		dev = &r.Dev.FirstStartSeconds
	}
	add("selfserve dev healthy after start (first start, seeding included)", "<=", 2, "s", dev, "", notRun)
}

func benchDeref(p *float64) float64 {
	if p == nil {
		return 0
	}
	return *p
}

func benchFmtRatio(p *float64) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprintf("%.2f", *p)
}

func benchFmtOpt(p *float64, f string) string {
	if p == nil {
		return "?"
	}
	return fmt.Sprintf(f, *p)
}

// Print writes the report as tables.
func (r *Report) Print(w io.Writer) {
	s := r.Settings
	fmt.Fprintf(w, "%s\n", r.Command)
	fmt.Fprintf(w, "host: %d CPUs, %s, %s; each load %s after a %s warm-up, at most %d operations\n", r.Host.CPUs, r.Host.OS, r.Host.Go, s.Duration, s.Warmup, s.MaxOps)
	fmt.Fprintf(w, "raw chain: HTTP → grpc-gateway → gRPC → gRPC → bbolt Batch (MaxBatchDelay 1 ms), no product logic, in its own process\n")
	for _, p := range r.Prefill {
		fmt.Fprintf(w, "pre-filled %s store: %d subscriptions, %d users, %d assignments in %.1fs\n", p.System, p.Subscriptions, p.Users, p.Assignments, p.Seconds)
	}
	fmt.Fprintln(w)

	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "load\tstore\tc\tops/s\tp50 ms\tp99 ms\terrors\tCPU µs/op\tops/raw\tp50/raw\tp99/raw\tCPU/raw\t")
	for _, l := range r.Loads {
		name := l.Name
		if l.RequestsPerOp > 1 {
			name += fmt.Sprintf(" (%d req)", l.RequestsPerOp)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.0f\t%.2f\t%.2f\t%d\t%s\t%s\t%s\t%s\t%s\t\n", name, l.System, l.Concurrency, l.OpsPerSec, l.P50Ms, l.P99Ms, l.Errors,
			benchFmtOpt(l.ServerCPUUsPerOp, "%.0f"), benchFmtRatio(l.OpsRatio), benchFmtRatio(l.P50Ratio), benchFmtRatio(l.P99Ratio), benchFmtRatio(l.CPURatio))
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "CPU µs/op by process\tstore\tc\t%s\t\n", strings.Join(components, "\t"))
	for _, l := range r.Loads {
		if l.System == "raw" || l.CPUByProcess == nil {
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t", l.Name, l.System, l.Concurrency)
		for _, name := range components {
			fmt.Fprintf(tw, "%.0f\t", l.CPUByProcess[name])
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	r.printCommits(w)
	for _, l := range r.Loads {
		if l.FirstError != "" {
			fmt.Fprintf(w, "  %s %s c=%d first error: %s\n", l.Name, l.System, l.Concurrency, l.FirstError)
		}
	}
	fmt.Fprintln(w)

	r.printStoreRatios(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "process\tstore\tRSS idle MB\tRSS after MB\tdb file\tMB\t")
	for _, c := range r.Components {
		db, mb := "-", "-"
		if c.DBFile != "" {
			db, mb = c.DBFile, fmt.Sprintf("%.1f", float64(c.DBBytes)/(1<<20))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t\n", c.Name, c.System, benchFmtOpt(c.RSSIdleMB, "%.1f"), benchFmtOpt(c.RSSAfterMB, "%.1f"), db, mb)
	}
	tw.Flush()
	if r.Dev != nil {
		fmt.Fprintf(w, "\nselfserve dev healthy in %.3fs on first start, %.3fs on restart\n", r.Dev.FirstStartSeconds, r.Dev.RestartSeconds)
	}
	fmt.Fprintln(w)

	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "target\tmeasured\tthreshold\tresult\t")
	for _, g := range r.Targets {
		fmt.Fprintf(tw, "%s\t%s\t%s %g %s\t%s\t%s\n", g.Name, benchFmtOpt(g.Measured, "%.2f"), g.Op, g.Threshold, g.Unit, g.Result, g.Detail)
	}
	tw.Flush()
	if len(r.Notes) > 0 {
		fmt.Fprintf(w, "\nnotes:\n  %s\n", strings.Join(r.Notes, "\n  "))
	}
}

// printCommits prints each load's durable commits by process: commits per
// operation, and the calls a commit carried.
func (r *Report) printCommits(w io.Writer) {
	stores := []string{"licensing", "commerce", "billing"}
	var rows []benchResult
	for _, l := range r.Loads {
		if len(l.CommitsByProcess) > 0 {
			rows = append(rows, l)
		}
	}
	if len(rows) == 0 {
		return
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "commits/op (calls a commit)\tstore\tc\t%s\t\n", strings.Join(stores, "\t"))
	for _, l := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%d\t", l.Name, l.System, l.Concurrency)
		for _, name := range stores {
			if c, ok := l.CommitsByProcess[name]; ok {
				fmt.Fprintf(tw, "%.2f (%.1f)\t", c.PerOp, c.CallsPerCommit)
			} else {
				fmt.Fprint(tw, "-\t")
			}
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
}
