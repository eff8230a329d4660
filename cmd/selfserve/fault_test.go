package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/selfserve/selfserve/services/kit/auth"
	"github.com/selfserve/selfserve/services/kit/servetest"
)

// component is one selfserve process of the fault test.
type component struct {
	name string
	args []string
	mu   sync.Mutex
	cmd  *exec.Cmd
	logs *servetest.Buffer
}

func (c *component) start(t *testing.T, bin string) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cmd = exec.Command(bin, append([]string{c.name}, c.args...)...)
	// The load is one user's, far above a person's rate limits.
	c.cmd.Env = append(os.Environ(), "SELFSERVE_LOG_LEVEL=warn", "SELFSERVE_RATE_LIMIT_ORG=0", "SELFSERVE_RATE_LIMIT_CALLER=0")
	c.cmd.Stdout, c.cmd.Stderr = io.Discard, c.logs
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", c.name, err)
	}
	go c.cmd.Wait()
}

// kill ends the process at once, as a crash would.
func (c *component) kill() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cmd != nil && c.cmd.Process != nil {
		c.cmd.Process.Signal(syscall.SIGKILL)
		time.Sleep(20 * time.Millisecond)
	}
}

func freePorts(t *testing.T, n int) []string {
	t.Helper()
	var out []string
	var ls []net.Listener
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		out = append(out, l.Addr().String())
	}
	for _, l := range ls {
		l.Close()
	}
	return out
}

// client speaks JSON to the gateway and retries, with the same request id,
// whatever a crash interrupted.
type client struct {
	url string
	ops atomic.Int64
}

func (c *client) once(method, path, token, body, key string) (int, map[string]any, error) {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, c.url+path, r)
	req.Header.Set("Authorization", "Bearer "+token)
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	hc := &http.Client{Timeout: 10 * time.Second}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	json.Unmarshal(raw, &out)
	return resp.StatusCode, out, nil
}

// do retries until the answer is neither a transport error nor a 5xx, for
// at most deadline.
func (c *client) do(method, path, token, body, key string, deadline time.Duration) (int, map[string]any) {
	c.ops.Add(1)
	stop := time.Now().Add(deadline)
	for {
		code, out, err := c.once(method, path, token, body, key)
		if err == nil && code < 500 {
			return code, out
		}
		if time.Now().After(stop) {
			return code, out
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestFaultsLoseNothing runs the four components as separate processes,
// drives a bounded mixed load while killing them with SIGKILL at random and
// restarting them, then checks that nothing was lost or done twice.
func TestFaultsLoseNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("runs processes for half a minute")
	}
	bin := binary(t)
	dir := t.TempDir()
	key := filepath.Join(dir, "signing.key")
	ports := freePorts(t, 4)
	addrs := []string{"--licensing-addr", ports[1], "--commerce-addr", ports[2], "--billing-addr", ports[3]}
	var comps []*component
	for _, name := range []string{"licensing", "billing", "commerce", "gateway"} {
		args := append([]string{"--http-addr", ports[0]}, addrs...)
		if name != "gateway" {
			args = append([]string{"--signing-key", key, "--data-dir", filepath.Join(dir, name), "--clock", "manual"}, addrs...)
		}
		comps = append(comps, &component{name: name, args: args, logs: &servetest.Buffer{}})
	}
	if _, err := auth.LoadOrCreateKey(key); err != nil {
		t.Fatal(err)
	}
	for _, c := range comps {
		c.start(t, bin)
	}
	t.Cleanup(func() {
		for _, c := range comps {
			c.kill()
		}
	})
	out, err := exec.Command(bin, "token", "--operator", "--signing-key", key, "--data-dir", dir).Output()
	if err != nil {
		t.Fatal(err)
	}
	op := strings.TrimSpace(string(out))
	cl := &client{url: "http://" + ports[0]}
	// Wait for the system, then a buyer with a card that pays.
	code, tok := cl.do("POST", "/v1/organizations/contoso/users/max:issueToken", op, `{}`, "", 20*time.Second)
	if code != 200 {
		t.Fatalf("system not up: %d %v", code, tok)
	}
	maxTok := tok["token"].(string)
	code, acct := cl.do("POST", "/v1/organizations/contoso/billingAccounts", maxTok, `{"displayName":"Max","soldTo":{"countryCode":"SE"}}`, "fault-account", 20*time.Second)
	if code != 200 {
		t.Fatalf("account: %d %v", code, acct)
	}
	account := acct["name"].(string)
	_, pm := cl.do("POST", "/v1/"+account+"/paymentMethods", maxTok, cardJSON("4242424242424242", "989"), "fault-card", 20*time.Second)
	profile := account + "/billingProfiles/default"
	cl.do("PATCH", "/v1/"+profile, maxTok, fmt.Sprintf(`{"paymentMethod":%q}`, pm["name"]), "fault-profile", 20*time.Second)
	_, products := cl.do("GET", "/v1/products?pageSize=1000", maxTok, "", "", 20*time.Second)
	var product string
	for _, p := range products["products"].([]any) {
		m := p.(map[string]any)
		if m["trial"] == nil && m["trialOnly"] != true && product == "" {
			product = m["name"].(string)
		}
	}

	faults := func(stop time.Time) int64 {
		r := rand.New(rand.NewPCG(1, 2))
		kills := int64(0)
		for time.Now().Before(stop) {
			time.Sleep(time.Duration(700+r.IntN(1300)) * time.Millisecond)
			c := comps[r.IntN(len(comps))]
			c.kill()
			kills++
			time.Sleep(time.Duration(100+r.IntN(400)) * time.Millisecond)
			c.start(t, bin)
		}
		return kills
	}
	load := mixedLoad(cl, op, maxTok, profile, product, 20*time.Second, 1500, faults)
	t.Logf("load done: %d operations, %d kills", cl.ops.Load(), load.kills)

	// Every component is back; wait until the pending steps have drained
	// and the stores agree.
	for _, c := range comps {
		c.kill()
		c.start(t, bin)
	}
	checkArgs := []string{"--signing-key", key, "--data-dir", dir, "--licensing-addr", ports[1], "--commerce-addr", ports[2], "--billing-addr", ports[3]}
	violations := verifyLoad(t, bin, cl, checkArgs, maxTok, account, load)
	if len(violations) > 0 {
		for _, c := range comps {
			t.Logf("%s log tail: %s", c.name, tail(c.logs.String(), 1500))
		}
		t.Fatalf("violations:\n%s", strings.Join(violations, "\n"))
	}
}

// loadResult is what a mixed load did.
type loadResult struct {
	purchases map[string]string // request id → subscription answered
	attempted map[string]string // every purchase request id sent → its body
	kills     int64
}

// mixedLoad drives purchases, quantity changes, assigns and unassigns,
// cancels and clock moves from 4 workers through the gateway, for at most
// loadFor and maxOps operations, while faults (given the load's end) does
// its damage; it returns what faults reports as its count.
func mixedLoad(cl *client, op, maxTok, profile, product string, loadFor time.Duration, maxOps int64, faults func(stop time.Time) int64) *loadResult {
	const workers = 4
	res := &loadResult{purchases: map[string]string{}, attempted: map[string]string{}}
	var mu sync.Mutex
	var subs []string
	users := []string{"max", "nora", "li", "rita", "bruno", "ada"}
	stop := time.Now().Add(loadFor)
	var wg sync.WaitGroup
	faultsDone := make(chan struct{})
	go func() {
		defer close(faultsDone)
		res.kills = faults(stop)
	}()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 7))
			for n := 0; time.Now().Before(stop) && cl.ops.Load() < maxOps; n++ {
				mu.Lock()
				pick := ""
				if len(subs) > 0 {
					pick = subs[r.IntN(len(subs))]
				}
				mu.Unlock()
				key := fmt.Sprintf("w%d-%d", w, n)
				switch x := r.IntN(100); {
				case x < 30 || pick == "":
					body := buy(product, profile, 1+r.IntN(4), "")
					mu.Lock()
					res.attempted[key] = body
					mu.Unlock()
					code, s := cl.do("POST", "/v1/organizations/contoso/subscriptions:purchase", maxTok, body, key, 8*time.Second)
					if code == 200 {
						mu.Lock()
						res.purchases[key] = s["name"].(string)
						subs = append(subs, s["name"].(string))
						mu.Unlock()
					}
				case x < 50:
					cl.do("POST", "/v1/"+pick+":setQuantity", maxTok, fmt.Sprintf(`{"totalLicenses":%d}`, 1+r.IntN(8)), key, 8*time.Second)
				case x < 80:
					pool := "/v1/organizations/contoso/licenses/" + pick[len("organizations/contoso/subscriptions/"):]
					u := users[r.IntN(len(users))]
					verb := ":assign"
					if r.IntN(2) == 0 {
						verb = ":unassign"
					}
					cl.do("POST", pool+verb, maxTok, fmt.Sprintf(`{"users":["organizations/contoso/users/%s"]}`, u), key, 8*time.Second)
				case x < 85:
					cl.do("POST", "/v1/"+pick+":cancel", maxTok, `{"reason":"OTHER"}`, key, 8*time.Second)
				default:
					cl.do("POST", "/v1/clock:advance", op, fmt.Sprintf(`{"duration":"%ds"}`, 3600*(1+r.IntN(48))), "", 8*time.Second)
				}
			}
		}()
	}
	wg.Wait()
	<-faultsDone
	return res
}

// verifyLoad waits (45 s at most) until `selfserve check` (run with
// checkArgs) finds the stores agreeing, then replays every purchase request
// of the load and reads the invoices: each answered purchase exists once,
// under the name it was answered with, and was charged once. It returns
// every violation found.
func verifyLoad(t *testing.T, bin string, cl *client, checkArgs []string, maxTok, account string, load *loadResult) []string {
	t.Helper()
	var report Report
	var checkOut []byte
	var checkErr bytes.Buffer
	deadline := time.Now().Add(45 * time.Second)
	clean := false
	for !clean && time.Now().Before(deadline) {
		checkErr.Reset()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		cmd := exec.CommandContext(ctx, bin, append([]string{"check", "--json", "--timeout", "3s"}, checkArgs...)...)
		cmd.Stderr = &checkErr
		checkOut, _ = cmd.Output()
		cancel()
		report = Report{}
		clean = json.Unmarshal(checkOut, &report) == nil && report.Organizations > 0 && len(report.Violations) == 0
		if !clean {
			time.Sleep(time.Second)
		}
	}
	t.Logf("check: clean=%v %s %s", clean, checkOut, checkErr.String())
	var violations []string
	violations = append(violations, report.Violations...)
	if report.Organizations == 0 {
		violations = append(violations, "selfserve check never answered: "+checkErr.String())
	}

	// Replaying every purchase request gives the subscription it made (the
	// same one it answered, if it was answered), and no subscription exists
	// that no request made.
	byName := map[string]string{}
	unanswered := map[int]int{}
	replayStart := time.Now()
	left := len(load.attempted)
	for key, body := range load.attempted {
		if time.Since(replayStart) > 90*time.Second {
			violations = append(violations, fmt.Sprintf("replays still not done after 90 s: %d of %d left", left, len(load.attempted)))
			break
		}
		left--
		code, s := cl.do("POST", "/v1/organizations/contoso/subscriptions:purchase", maxTok, body, key, 3*time.Second)
		if code != 200 {
			unanswered[code]++
			if unanswered[code] == 1 {
				t.Logf("replay of %s: %d %v", key, code, s)
			}
			if _, answered := load.purchases[key]; answered {
				violations = append(violations, fmt.Sprintf("replay of %s: %d %v", key, code, s))
			}
			continue
		}
		name := s["name"].(string)
		if prev, ok := load.purchases[key]; ok && prev != name {
			violations = append(violations, fmt.Sprintf("request %s answered %s, its replay %s", key, prev, name))
		}
		if prev, ok := byName[name]; ok {
			violations = append(violations, fmt.Sprintf("requests %s and %s made the same subscription", prev, key))
		}
		byName[name] = key
	}
	t.Logf("replays took %s; not 200 by status: %v", time.Since(replayStart).Round(time.Millisecond), unanswered)
	existing := 0
	for _, x := range listAll(cl, maxTok, "/v1/organizations/contoso/subscriptions?", "subscriptions") {
		name := x.(map[string]any)["name"].(string)
		existing++
		if _, ok := byName[name]; !ok {
			violations = append(violations, fmt.Sprintf("%s exists but no request made it", name))
		}
	}
	if existing != len(byName) {
		violations = append(violations, fmt.Sprintf("%d subscriptions exist, %d requests made one", existing, len(byName)))
	}
	// Each answered purchase was charged exactly once.
	charged := purchaseCharges(cl, maxTok, account)
	for name := range byName {
		if charged[name] != 1 {
			violations = append(violations, fmt.Sprintf("%s was charged %d times for its purchase", name, charged[name]))
		}
	}
	t.Logf("operations %d, kills %d, answered purchases %d of %d, subscriptions %d, pools %d, invoices %d, violations %d",
		cl.ops.Load(), load.kills, len(load.purchases), len(load.attempted), report.Subscriptions, report.Pools, report.Invoices, len(violations))
	fmt.Printf("fault test: operations %d, kills %d, violations %d\n", cl.ops.Load(), load.kills, len(violations))
	return violations
}

// purchaseCharges counts the PURCHASE lines of the account's invoices that
// are not void, per subscription.
func purchaseCharges(cl *client, tok, account string) map[string]int {
	charged := map[string]int{}
	for _, i := range listAll(cl, tok, "/v1/"+account+"/invoices?period=CUSTOM&startTime=1970-01-01T00:00:00Z&endTime=2200-01-01T00:00:00Z", "invoices") {
		inv := i.(map[string]any)
		if inv["status"] == "VOID" {
			continue
		}
		for _, l := range inv["lineItems"].([]any) {
			if line := l.(map[string]any); line["type"] == "PURCHASE" {
				charged[line["subscription"].(string)]++
			}
		}
	}
	return charged
}

// listAll reads every page of a list (path ends in ? or a query) and
// returns the items under field.
func listAll(cl *client, tok, path, field string) []any {
	var out []any
	token := ""
	for range 1000 { // pages of 1000: far more than any load makes
		sep := "&"
		if strings.HasSuffix(path, "?") {
			sep = ""
		}
		_, page := cl.do("GET", path+sep+"pageSize=1000&pageToken="+url.QueryEscape(token), tok, "", "", 15*time.Second)
		items, _ := page[field].([]any)
		out = append(out, items...)
		if token, _ = page["nextPageToken"].(string); token == "" {
			break
		}
	}
	return out
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
