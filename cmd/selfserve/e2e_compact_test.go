package main

import (
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestEndToEndCompact compacts the stores of a running system while users
// and billing accounts are being created, and then after a restart finds
// every one of them whose creation was answered; writes go on throughout
// (they wait while a store is copied) and none fails.
func TestEndToEndCompact(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := binary(t)
	data := t.TempDir()
	r := startDev(t, bin, data)
	op, max := r.tokens["operator"], r.tokens["contoso/max"]

	var (
		mu       sync.Mutex
		made     []backupWrite
		failed   []string
		stop     = make(chan struct{})
		wg       sync.WaitGroup
		maxWrite = 200 // a worker's, at most
	)
	load := func(worker int) {
		defer wg.Done()
		for i := range maxWrite {
			select {
			case <-stop:
				return
			default:
			}
			id := fmt.Sprintf("compact-%d-%03d", worker, i)
			c := call{method: "POST", path: "/v1/organizations/contoso/users?userId=" + id, token: op,
				body: fmt.Sprintf(`{"displayName":"Load %s","email":"%s@contoso.example","userType":"MEMBER","usageLocation":"SE"}`, id, id)}
			if worker%2 == 1 {
				c = call{method: "POST", path: "/v1/organizations/contoso/billingAccounts", token: max,
					body: fmt.Sprintf(`{"displayName":"Load %s","soldTo":{"countryCode":"SE"}}`, id)}
			}
			c.headers = map[string]string{"Idempotency-Key": id}
			w := backupWrite{sent: time.Now()}
			code, body, err := backupSend(r.url, c)
			w.answered = time.Now()
			name, _ := body["name"].(string)
			mu.Lock()
			if err != nil || code != 200 || name == "" {
				failed = append(failed, fmt.Sprintf("%s %s: %d %v %v", c.method, c.path, code, body, err))
			} else {
				made = append(made, backupWrite{path: "/v1/" + name, token: c.token, sent: w.sent, answered: w.answered, ok: true})
			}
			mu.Unlock()
			time.Sleep(20 * time.Millisecond)
		}
	}
	for w := range 4 {
		wg.Add(1)
		go load(w)
	}
	time.Sleep(500 * time.Millisecond)
	out, err := exec.Command(bin, "compact", "--data-dir", data,
		"--licensing-addr", r.grpc["licensing"], "--commerce-addr", r.grpc["commerce"], "--billing-addr", r.grpc["billing"]).CombinedOutput()
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("selfserve compact: %v\n%s", err, out)
	}
	t.Logf("selfserve compact:\n%s", out)
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 3 {
		t.Fatalf("compact printed %q, want a line a store", out)
	}
	for i, name := range []string{"licensing.db", "commerce.db", "billing.db"} {
		if !strings.HasPrefix(lines[i], name+"\t") || !strings.Contains(lines[i], "writes paused") {
			t.Errorf("line %d: %q", i, lines[i])
		}
	}
	if len(failed) > 0 {
		t.Fatalf("%d writes failed around the compaction, first: %s", len(failed), failed[0])
	}
	if len(made) < 20 {
		t.Fatalf("only %d writes were made around the compaction", len(made))
	}

	// Everything answered is there, in the running system and after a
	// restart on the compacted files.
	readAll := func(r *running, when string) {
		for _, w := range made {
			if code, body := r.do(t, call{method: "GET", path: w.path, token: w.token}); code != 200 {
				t.Fatalf("%s: GET %s: %d %v", when, w.path, code, body)
			}
		}
	}
	readAll(r, "after the compaction")
	r.stop(t)
	again := startDev(t, bin, data)
	// The demo tokens are signed with the same key: they still hold.
	readAll(again, "after a restart")
	t.Logf("%d records written around the compaction, all read back twice", len(made))

	// Without the signing key there is no operator token to send: refused.
	msg, err := exec.Command(bin, "compact", "--data-dir", t.TempDir(), "--licensing-addr", again.grpc["licensing"], "--only", "licensing").CombinedOutput()
	if err == nil || !strings.Contains(string(msg), "signing key") {
		t.Errorf("compact without the key: %v %q", err, msg)
	}
}
