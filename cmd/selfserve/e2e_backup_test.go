package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/selfserve/selfserve/services/kit/backuprpc"
)

// backupWrite is one write of the load, with when it was sent and answered.
type backupWrite struct {
	path     string // where the record is read back
	token    string // who may read it
	sent     time.Time
	answered time.Time
	ok       bool
}

// backupSend is do for the load's goroutines: it reports instead of failing.
func backupSend(url string, c call) (int, map[string]any, error) {
	req, err := http.NewRequest(c.method, url+c.path, strings.NewReader(c.body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range c.headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		return resp.StatusCode, nil, fmt.Errorf("not JSON: %s", raw)
	}
	return resp.StatusCode, out, nil
}

// TestEndToEndBackup backs up a running system under load, starts a second
// system on the copies and finds there every record committed before the
// backup began, and none asked for after it ended.
func TestEndToEndBackup(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := binary(t)
	data := t.TempDir()
	r := startDev(t, bin, data)
	op, max := r.tokens["operator"], r.tokens["contoso/max"]
	if op == "" || max == "" {
		t.Fatalf("banner lacks tokens: %v", r.tokens)
	}

	// The load: operators create users, a member opens billing accounts,
	// each with an Idempotency-Key, at most maxWrites in all.
	const maxWrites = 300
	var (
		issued atomic.Int64
		mu     sync.Mutex
		writes []backupWrite
		failed []string
		stop   = make(chan struct{})
		wg     sync.WaitGroup
	)
	load := func(worker int, kind string) {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if issued.Add(1) > maxWrites {
				return
			}
			id := fmt.Sprintf("load-%d-%03d", worker, i)
			var c call
			switch kind {
			case "user":
				c = call{method: "POST", path: "/v1/organizations/contoso/users?userId=" + id, token: op,
					body: fmt.Sprintf(`{"displayName":"Load %s","email":"%s@contoso.example","userType":"MEMBER","usageLocation":"SE"}`, id, id)}
			case "account":
				c = call{method: "POST", path: "/v1/organizations/contoso/billingAccounts", token: max,
					body: fmt.Sprintf(`{"displayName":"Load %s","soldTo":{"countryCode":"SE"}}`, id)}
			}
			c.headers = map[string]string{"Idempotency-Key": "backup-" + id}
			w := backupWrite{sent: time.Now()}
			code, body, err := backupSend(r.url, c)
			w.answered = time.Now()
			name, _ := body["name"].(string)
			w.ok = err == nil && code == 200 && name != ""
			if w.ok {
				w.path, w.token = "/v1/"+name, c.token
			}
			mu.Lock()
			writes = append(writes, w)
			if !w.ok {
				failed = append(failed, fmt.Sprintf("%s %s: %d %v %v", c.method, c.path, code, body, err))
			}
			mu.Unlock()
			time.Sleep(40 * time.Millisecond)
		}
	}
	for w := range 4 {
		wg.Add(1)
		go load(w, "user")
	}
	for w := 4; w < 6; w++ {
		wg.Add(1)
		go load(w, "account")
	}

	// Back up in the middle of the load, with the built binary.
	time.Sleep(600 * time.Millisecond)
	out := filepath.Join(t.TempDir(), "backup")
	cmd := exec.Command(bin, "backup", "--out", out, "--data-dir", data,
		"--licensing-addr", r.grpc["licensing"], "--commerce-addr", r.grpc["commerce"], "--billing-addr", r.grpc["billing"])
	cmd.Env = os.Environ()
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	began := time.Now()
	err := cmd.Run()
	ended := time.Now()
	time.Sleep(time.Until(began.Add(1400 * time.Millisecond)))
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("selfserve backup: %v\n%s", err, stderr.String())
	}
	t.Logf("backup took %v:\n%s", ended.Sub(began), stdout.String())
	if len(failed) > 0 {
		t.Fatalf("%d writes of the load failed, first: %s", len(failed), failed[0])
	}

	// One line per store with its size, and the key is not among the files.
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("backup printed %q", stdout.String())
	}
	for i, name := range []string{"licensing.db", "commerce.db", "billing.db"} {
		path := filepath.Join(out, name)
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("%s\t%d bytes", path, fi.Size()); lines[i] != want {
			t.Errorf("line %d: %q, want %q", i, lines[i], want)
		}
		if err := backuprpc.Verify(path); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if entries, _ := os.ReadDir(out); len(entries) != 3 {
		t.Errorf("backup directory holds %v", entries)
	}

	var before, after, during int
	for _, w := range writes {
		switch {
		case w.answered.Before(began):
			before++
		case w.sent.After(ended):
			after++
		default:
			during++
		}
	}
	t.Logf("writes: %d before the backup, %d during, %d after", before, during, after)
	if before == 0 || after == 0 {
		t.Fatalf("the load did not run around the backup: %d before, %d after", before, after)
	}

	// Refusals: a directory that already holds a store, a missing key (not
	// made up on the spot), another key, an address of the wrong service.
	other := t.TempDir()
	if err := exec.Command(bin, "token", "--operator", "--data-dir", other).Run(); err != nil {
		t.Fatal(err)
	}
	noKey := t.TempDir()
	addrs := func(l, c, b string) []string {
		return []string{"--licensing-addr", r.grpc[l], "--commerce-addr", r.grpc[c], "--billing-addr", r.grpc[b]}
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no --out", append([]string{"--data-dir", data}, addrs("licensing", "commerce", "billing")...), "--out is required"},
		{"not empty", append([]string{"--out", out, "--data-dir", data}, addrs("licensing", "commerce", "billing")...), "already holds"},
		{"no key", append([]string{"--out", filepath.Join(t.TempDir(), "b"), "--data-dir", noKey}, addrs("licensing", "commerce", "billing")...), "signing key"},
		{"other key", append([]string{"--out", filepath.Join(t.TempDir(), "b"), "--data-dir", other}, addrs("licensing", "commerce", "billing")...), "Unauthenticated"},
		{"wrong service", append([]string{"--out", filepath.Join(t.TempDir(), "b"), "--data-dir", data}, addrs("licensing", "billing", "billing")...), "sent billing.db"},
	} {
		msg, err := exec.Command(bin, append([]string{"backup"}, tc.args...)...).CombinedOutput()
		if err == nil || !strings.Contains(string(msg), tc.want) {
			t.Errorf("backup, %s: %v %q, want an error with %q", tc.name, err, msg, tc.want)
		}
	}
	if _, err := os.Stat(filepath.Join(noKey, "signing.key")); err == nil {
		t.Error("backup made up a signing key")
	}

	// A second system on the copies, with the key they were made with.
	restored := t.TempDir()
	for _, name := range []string{"licensing.db", "commerce.db", "billing.db"} {
		backupCopy(t, filepath.Join(out, name), filepath.Join(restored, name))
	}
	backupCopy(t, filepath.Join(data, "signing.key"), filepath.Join(restored, "signing.key"))
	r.stop(t)
	r2 := startDev(t, bin, restored)
	if code, body := r2.do(t, call{method: "GET", path: "/healthz"}); code != 200 || body["status"] != "SERVING" {
		t.Fatalf("restored system: healthz %d %v", code, body)
	}
	for _, w := range writes {
		if !w.ok {
			continue
		}
		switch {
		case w.answered.Before(began):
			if code, body := r2.do(t, call{method: "GET", path: w.path, token: w.token}); code != 200 {
				t.Errorf("%s, committed before the backup, is missing from the copy: %d %v", w.path, code, body)
			}
		case w.sent.After(ended):
			if code, _ := r2.do(t, call{method: "GET", path: w.path, token: w.token}); code != 404 {
				t.Errorf("%s, asked for after the backup, is in the copy: %d", w.path, code)
			}
		}
	}
	// The copies serve writes too.
	code, body := r2.do(t, call{method: "POST", path: "/v1/organizations/contoso/users?userId=after-restore", token: r2.tokens["operator"],
		body: `{"displayName":"After Restore","email":"after@contoso.example","userType":"MEMBER","usageLocation":"SE"}`})
	if code != 200 {
		t.Fatalf("write on the restored system: %d %v", code, body)
	}
}

func backupCopy(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
