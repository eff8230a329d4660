package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/selfserve/selfserve/cmd/selfserve/internal/bench"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestBenchQuick runs `selfserve bench --quick --json` through the built
// binary and checks the shape of what it printed: every load ran without
// errors and every target has its line. Whether targets pass depends on
// the machine; a test never asserts timings.
func TestBenchQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs a system of five processes")
	}
	bin := binary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "bench", "--duration", "300ms", "--size", "200", "--quick", "--json")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, stderr.String())
	}
	var rep bench.Report
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}

	want := map[string]bool{}
	for _, name := range []string{"raw-chain/json", "echo/grpc", "echo-chain/grpc", "assign/json", "assign/grpc", "get-organization/json",
		"get-organization/grpc", "list-subscriptions/json", "purchase/json", "list-invoices/json", "bbolt-update/local",
		"raw-chain-purchase/json", "raw-chain-list/json"} {
		for _, c := range []int{1, 16} {
			want[fmt.Sprintf("%s c=%d", name, c)] = true
		}
	}
	for _, l := range rep.Loads {
		key := fmt.Sprintf("%s c=%d", l.Name, l.Concurrency)
		delete(want, key)
		if l.Ops == 0 || l.Errors != 0 {
			t.Errorf("%s on %s: %d operations, %d errors (%s)", key, l.System, l.Ops, l.Errors, l.FirstError)
		}
		if l.Name != "raw-chain/json" && l.OpsRatio == nil {
			t.Errorf("%s: no ratio to the raw chain", key)
		}
		if l.ServerCPUUsPerOp == nil {
			t.Errorf("%s: server CPU unknown", key)
		}
	}
	for key := range want {
		t.Errorf("load %s missing", key)
	}

	targets := []string{
		"JSON-edge assign c=16: ops/s / raw chain",
		"JSON-edge assign c=16: p99 / raw chain p99",
		"JSON-edge assign c=1: p50 / raw chain p50",
		"JSON-edge assign c=1: p99 / raw chain p99",
		"purchase (three services) c=16: ops/s",
		"purchase (three services) c=16: p99",
		"purchase (three services) c=16: CPU per purchase",
		"list subscriptions c=16 (JSON): ops/s",
		"list subscriptions c=16 (JSON): gateway CPU",
		"read RPC (GetOrganization over gRPC) c=16",
		"interceptor chain c=16: CPU per request",
		"list subscriptions c=1: p99 at 100000 / p99 at 200 subscriptions",
		"large store: licensing bytes in use per assignment at 1000000",
		"JSON-edge assign c=16: p99 with 1000000 assignments",
		"idle RSS of licensing", "idle RSS of commerce", "idle RSS of billing", "idle RSS of gateway",
		"selfserve dev healthy",
	}
	if len(rep.Targets) != len(targets) {
		t.Errorf("%d targets, want %d", len(rep.Targets), len(targets))
	}
	for _, name := range targets {
		found := false
		for _, g := range rep.Targets {
			if strings.HasPrefix(g.Name, name) {
				found = true
				large := strings.Contains(name, "100000") || strings.Contains(name, "1000000")
				switch {
				case large && g.Result != "SKIP":
					t.Errorf("%s: %s in a quick run, want SKIP", g.Name, g.Result)
				case !large && g.Result != "PASS" && g.Result != "FAIL":
					t.Errorf("%s: %s (%s), want a measurement", g.Name, g.Result, g.Detail)
				}
			}
		}
		if !found {
			t.Errorf("target %q missing", name)
		}
	}
	// A purchase commits twice in commerce and once in billing and in
	// licensing, whatever the sharing of commits.
	for _, l := range rep.Loads {
		if l.Name != "purchase/json" {
			continue
		}
		for name, calls := range map[string]float64{"commerce": 2, "billing": 1, "licensing": 1} {
			c, ok := l.CommitsByProcess[name]
			if got := c.PerOp * c.CallsPerCommit; !ok || got < calls*0.8 || got > calls*1.5 {
				t.Errorf("purchase/json c=%d: %s committed %+v (%.2f calls an operation), want about %.0f", l.Concurrency, name, c, got, calls)
			}
		}
	}
	// The purchase and list targets name their shapes' figures, the floors
	// of what they can reach.
	for _, g := range rep.Targets {
		for prefix, shape := range map[string]string{"purchase (three services) c=16: CPU": "the raw purchase shape ", "list subscriptions c=16 (JSON): ops/s": "the raw list shape "} {
			if strings.HasPrefix(g.Name, prefix) && !strings.Contains(g.Detail, shape) {
				t.Errorf("%s: detail %q lacks %q", g.Name, g.Detail, shape)
			}
		}
	}
	if rep.Dev == nil || rep.Dev.FirstStartSeconds <= 0 {
		t.Errorf("dev start not measured: %+v", rep.Dev)
	}
	sizes := map[string]bool{}
	for _, c := range rep.Components {
		if c.DBBytes > 0 {
			sizes[c.System+"/"+c.DBFile] = true
		}
		if c.RSSIdleMB == nil {
			t.Errorf("%s/%s: idle RSS unknown", c.System, c.Name)
		}
	}
	for _, f := range []string{"raw/raw.db", "small/licensing.db", "small/commerce.db", "small/billing.db"} {
		if !sizes[f] {
			t.Errorf("size of %s missing: %+v", f, rep.Components)
		}
	}

	// The same report as tables.
	var text bytes.Buffer
	rep.Print(&text)
	for _, s := range append([]string{"ops/raw", "RSS idle MB", "list-invoices/json", "commits/op (calls a commit)"}, targets...) {
		if !strings.Contains(text.String(), s) {
			t.Errorf("table output lacks %q:\n%s", s, text.String())
		}
	}
}

// TestBenchEtcdQuick: `bench --store etcd` runs the main loads again on a
// 3-member loopback cluster and compares each with its bbolt run.
func TestBenchEtcdQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs a system of ten processes")
	}
	bin := binary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "bench", "--store", "etcd", "--duration", "300ms", "--size", "100", "--quick",
		"--only", "raw-chain,assign/grpc,purchase", "--json")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, stderr.String())
	}
	var rep bench.Report
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	for _, l := range rep.Loads {
		if l.System == "etcd" && (l.Ops == 0 || l.Errors != 0) {
			t.Errorf("%s c=%d on etcd: %d operations, %d errors (%s)", l.Name, l.Concurrency, l.Ops, l.Errors, l.FirstError)
		}
		if l.System == "etcd" && l.CPUByProcess["etcd-m0"] == 0 && l.CPUByProcess["etcd-m1"] == 0 && l.CPUByProcess["etcd-m2"] == 0 {
			t.Errorf("%s c=%d on etcd: the members' CPU is not counted", l.Name, l.Concurrency)
		}
	}
	want := map[string]bool{"assign/grpc c=1": true, "assign/grpc c=16": true, "purchase/json c=1": true, "purchase/json c=16": true}
	for _, r := range rep.StoreRatios {
		key := fmt.Sprintf("%s c=%d", r.Name, r.Concurrency)
		if r.OpsRatio == nil || *r.OpsRatio <= 0 || r.P99Ratio == nil || r.CPURatio == nil {
			t.Errorf("%s: ratio missing: %+v", key, r)
		}
		delete(want, key)
	}
	for key := range want {
		t.Errorf("no etcd/bbolt ratio for %s", key)
	}
	var text bytes.Buffer
	rep.Print(&text)
	if !strings.Contains(text.String(), "ops etcd/bbolt") {
		t.Errorf("table output lacks the etcd comparison:\n%s", text.String())
	}
}
