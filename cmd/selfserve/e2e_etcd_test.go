package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	commercev1 "github.com/selfserve/selfserve/gen/go/selfserve/commerce/v1"
	licensingv1 "github.com/selfserve/selfserve/gen/go/selfserve/licensing/v1"
	"github.com/selfserve/selfserve/services/kit/auth"
	"github.com/selfserve/selfserve/services/kit/errs"
	"github.com/selfserve/selfserve/services/kit/kv"
	"github.com/selfserve/selfserve/services/kit/kv/etcdembed"
	"github.com/selfserve/selfserve/services/kit/serve"
	"github.com/selfserve/selfserve/services/kit/servetest"
)

// etcdSystem is selfserve on etcd, every part its own process: a
// 3-member etcd cluster (`selfserve etcd`), two replicas of each service
// and a gateway that balances over them.
type etcdSystem struct {
	bin, dir, key string
	members       []*component
	endpoints     string
	replicas      map[string][]*component
	addrs         map[string][]string // service → its replicas' addresses
	gateway       *component
	httpAddr      string
	op            string
	cl            *client
}

// startEtcdSystem starts the cluster, calls before (when not nil) with the
// cluster up and no service started, then starts the services.
func startEtcdSystem(t *testing.T, bin string, before func(s *etcdSystem), extra ...string) *etcdSystem {
	t.Helper()
	dir := t.TempDir()
	s := &etcdSystem{bin: bin, dir: dir, key: filepath.Join(dir, "signing.key"), replicas: map[string][]*component{}, addrs: map[string][]string{}}
	plan, err := etcdembed.Plan(filepath.Join(dir, "etcd"), 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range plan {
		s.members = append(s.members, &component{name: "etcd", logs: &servetest.Buffer{}, args: []string{
			"--name", m.Name, "--data-dir", filepath.Join(dir, "etcd"), "--client-addr", m.ClientAddr, "--peer-addr", m.PeerAddr,
			"--initial-cluster", m.Cluster, "--unsafe-no-fsync"}})
	}
	s.endpoints = strings.Join(etcdembed.Endpoints(plan), ",")
	ports := freePorts(t, 7)
	s.httpAddr = ports[0]
	for i, name := range []string{"licensing", "commerce", "billing"} {
		s.addrs[name] = ports[1+2*i : 3+2*i]
	}
	if _, err := auth.LoadOrCreateKey(s.key); err != nil {
		t.Fatal(err)
	}
	lists := func() []string {
		return []string{"--licensing-addr", strings.Join(s.addrs["licensing"], ","), "--commerce-addr", strings.Join(s.addrs["commerce"], ","),
			"--billing-addr", strings.Join(s.addrs["billing"], ",")}
	}
	for _, name := range []string{"licensing", "commerce", "billing"} {
		for i, addr := range s.addrs[name] {
			args := append([]string{"--store", "etcd", "--etcd-endpoints", s.endpoints, "--etcd-dial-timeout", "20s",
				"--signing-key", s.key, "--data-dir", filepath.Join(dir, fmt.Sprintf("%s%d", name, i))}, extra...)
			args = append(args, lists()...)
			args = append(args, "--"+name+"-addr", addr) // its own address: the last flag wins
			s.replicas[name] = append(s.replicas[name], &component{name: name, args: args, logs: &servetest.Buffer{}})
		}
	}
	s.gateway = &component{name: "gateway", args: append([]string{"--http-addr", s.httpAddr}, lists()...), logs: &servetest.Buffer{}}
	t.Cleanup(func() {
		for _, c := range s.all() {
			c.kill()
		}
		if t.Failed() {
			for _, c := range s.all() {
				t.Logf("%s %v log tail: %s", c.name, c.args[:2], tail(c.logs.String(), 1200))
			}
		}
	})
	for _, c := range s.members {
		c.start(t, bin)
	}
	cli, err := kv.DialEtcd(etcdembed.Endpoints(plan), 30*time.Second)
	if err != nil {
		t.Fatalf("the etcd cluster did not come up: %v", err)
	}
	cli.Close()
	if before != nil {
		before(s)
	}
	for _, c := range s.all()[len(s.members):] {
		c.start(t, bin)
	}
	out, err := exec.Command(bin, "token", "--operator", "--signing-key", s.key, "--data-dir", dir).Output()
	if err != nil {
		t.Fatal(err)
	}
	s.op = strings.TrimSpace(string(out))
	s.cl = &client{url: "http://" + s.httpAddr}
	return s
}

func (s *etcdSystem) all() []*component {
	out := append([]*component{}, s.members...)
	for _, name := range []string{"licensing", "commerce", "billing"} {
		out = append(out, s.replicas[name]...)
	}
	return append(out, s.gateway)
}

// buyer sets up max of contoso with a billing profile that pays, and
// returns max's token, the profile, the account and a product to buy.
func (s *etcdSystem) buyer(t *testing.T) (tok, profile, account, product string) {
	t.Helper()
	cl := s.cl
	code, body := cl.do("POST", "/v1/organizations/contoso/users/max:issueToken", s.op, `{}`, "", 30*time.Second)
	if code != 200 {
		t.Fatalf("system not up: %d %v", code, body)
	}
	tok = body["token"].(string)
	code, acct := cl.do("POST", "/v1/organizations/contoso/billingAccounts", tok, `{"displayName":"Max","soldTo":{"countryCode":"SE"}}`, "etcd-account", 20*time.Second)
	if code != 200 {
		t.Fatalf("account: %d %v", code, acct)
	}
	account = acct["name"].(string)
	code, pm := cl.do("POST", "/v1/"+account+"/paymentMethods", tok, cardJSON("4242424242424242", "989"), "etcd-card", 20*time.Second)
	if code != 200 {
		t.Fatalf("card: %d %v", code, pm)
	}
	profile = account + "/billingProfiles/default"
	if code, b := cl.do("PATCH", "/v1/"+profile, tok, fmt.Sprintf(`{"paymentMethod":%q}`, pm["name"]), "etcd-profile", 20*time.Second); code != 200 {
		t.Fatalf("profile: %d %v", code, b)
	}
	_, products := cl.do("GET", "/v1/products?pageSize=1000", tok, "", "", 20*time.Second)
	for _, p := range products["products"].([]any) {
		m := p.(map[string]any)
		if m["trial"] == nil && m["trialOnly"] != true && product == "" {
			product = m["name"].(string)
		}
	}
	return tok, profile, account, product
}

func bearer(tok string) context.Context {
	return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+tok)
}

// TestEtcdReplicasKeepTheRules: two replicas of each service on one etcd
// cluster keep the rules that one process kept with bbolt.
func TestEtcdReplicasKeepTheRules(t *testing.T) {
	if testing.Short() {
		t.Skip("starts ten processes")
	}
	s := startEtcdSystem(t, binary(t), nil)
	tok, profile, account, product := s.buyer(t)

	// 64 users, and a pool of 5 licenses.
	const callers = 64
	for i := range callers {
		body := fmt.Sprintf(`{"displayName":"Replica User %02d","email":"ru%02d@contoso.example","userType":"MEMBER","usageLocation":"SE"}`, i, i)
		if code, b := s.cl.do("POST", fmt.Sprintf("/v1/organizations/contoso/users?userId=ru%02d", i), s.op, body, fmt.Sprintf("etcd-user-%d", i), 10*time.Second); code != 200 {
			t.Fatalf("user %d: %d %v", i, code, b)
		}
	}
	code, sub := s.cl.do("POST", "/v1/organizations/contoso/subscriptions:purchase", tok, buy(product, profile, 5, ""), "etcd-pool", 20*time.Second)
	if code != 200 {
		t.Fatalf("purchase: %d %v", code, sub)
	}
	pool := "organizations/contoso/licenses/" + strings.TrimPrefix(sub["name"].(string), "organizations/contoso/subscriptions/")

	// 64 concurrent assigns of one user each, half on each licensing replica.
	var conns []*grpc.ClientConn
	for _, addr := range s.addrs["licensing"] {
		c, err := serve.Dial(addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	results := map[string]int{}
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lic := licensingv1.NewLicensingServiceClient(conns[i%2])
			ctx, cancel := context.WithTimeout(bearer(tok), 30*time.Second)
			defer cancel()
			_, err := lic.AssignLicenses(ctx, &licensingv1.AssignLicensesRequest{Name: pool, Users: []string{fmt.Sprintf("organizations/contoso/users/ru%02d", i)}})
			key := "OK"
			if err != nil {
				key = errs.ReasonOf(err)
				if key == "" {
					key = err.Error()
				}
			}
			mu.Lock()
			results[fmt.Sprintf("replica %d %s", i%2, key)]++
			results[key]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	t.Logf("assigns: %v", results)
	if results["OK"] != 5 || results["NOT_ENOUGH_LICENSES"] != callers-5 {
		t.Fatalf("64 assigns on 5 licenses over two replicas: %v", results)
	}
	if results["replica 0 NOT_ENOUGH_LICENSES"] == 0 || results["replica 1 NOT_ENOUGH_LICENSES"] == 0 {
		t.Fatalf("the assigns did not reach both replicas: %v", results)
	}
	for _, c := range conns {
		p, err := licensingv1.NewLicensingServiceClient(c).GetLicense(bearer(tok), &licensingv1.GetLicenseRequest{Name: pool})
		if err != nil || p.GetAssignedLicenses() != 5 {
			t.Fatalf("pool read on a replica: %v %v", p, err)
		}
	}

	// The same purchase request id on both commerce replicas at once: one
	// subscription, charged once.
	names := make([]string, 2)
	req := &commercev1.PurchaseSubscriptionRequest{Parent: "organizations/contoso", Product: product, Quantity: 2,
		BillingFrequency: commercev1.Product_MONTHLY, BillingProfile: profile, RequestId: "etcd-twice"}
	for i, addr := range s.addrs["commerce"] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := serve.Dial(addr)
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			cs := commercev1.NewSubscriptionServiceClient(c)
			deadline := time.Now().Add(30 * time.Second)
			for {
				r, err := cs.PurchaseSubscription(bearer(tok), req)
				if err == nil {
					names[i] = r.GetName()
					return
				}
				// The other replica's call is still setting it up: retry
				// with the same id, as the answer says.
				if status.Code(err) != codes.Unavailable || time.Now().After(deadline) {
					t.Errorf("purchase on replica %d: %v", i, err)
					return
				}
				time.Sleep(50 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	if names[0] == "" || names[0] != names[1] {
		t.Fatalf("one request id on two replicas answered %q and %q", names[0], names[1])
	}
	if n := purchaseCharges(s.cl, tok, account)[names[0]]; n != 1 {
		t.Fatalf("%s charged %d times for its purchase", names[0], n)
	}

	// Every replica answers for the whole store; check agrees with itself.
	out, err := exec.Command(s.bin, "check", "--signing-key", s.key, "--data-dir", s.dir,
		"--licensing-addr", strings.Join(s.addrs["licensing"], ","), "--commerce-addr", strings.Join(s.addrs["commerce"], ","),
		"--billing-addr", strings.Join(s.addrs["billing"], ",")).CombinedOutput()
	if err != nil {
		t.Fatalf("check: %v\n%s", err, out)
	}
	t.Logf("check: %s", out)
}

// TestEtcdFaultsLoseNothing: under a mixed load, SIGKILL one etcd member
// and one replica of each service; the survivors go on serving, the dead
// come back, `selfserve check` finds nothing, and every answered purchase
// exists once and was charged once.
func TestEtcdFaultsLoseNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts ten processes for half a minute")
	}
	bin := binary(t)
	s := startEtcdSystem(t, bin, nil, "--clock", "manual")
	tok, profile, account, product := s.buyer(t)
	const loadFor = 15 * time.Second
	victims := []*component{s.members[1], s.replicas["licensing"][0], s.replicas["commerce"][1], s.replicas["billing"][0]}
	faults := func(stop time.Time) int64 {
		time.Sleep(loadFor / 3)
		for _, c := range victims {
			c.kill()
		}
		// A third of the load runs on the survivors alone; then the dead
		// come back (the member rejoins its cluster from its data).
		time.Sleep(loadFor / 3)
		for _, c := range victims {
			c.start(t, bin)
		}
		return int64(len(victims))
	}
	load := mixedLoad(s.cl, s.op, tok, profile, product, loadFor, 1200, faults)
	checkArgs := []string{"--signing-key", s.key, "--data-dir", s.dir,
		"--licensing-addr", strings.Join(s.addrs["licensing"], ","), "--commerce-addr", strings.Join(s.addrs["commerce"], ","),
		"--billing-addr", strings.Join(s.addrs["billing"], ",")}
	if violations := verifyLoad(t, bin, s.cl, checkArgs, tok, account, load); len(violations) > 0 {
		t.Fatalf("violations:\n%s", strings.Join(violations, "\n")) // the cleanup logs each process's tail
	}
	if len(load.purchases) == 0 {
		t.Fatal("no purchase was answered")
	}
}

// TestEtcdMigrateAndBackup: a bbolt data directory moves into etcd
// (`selfserve migrate --to etcd`, which then refuses to write over it), the
// services serve what it held, and `selfserve backup` copies their
// prefixes into bbolt files holding every key.
func TestEtcdMigrateAndBackup(t *testing.T) {
	if testing.Short() {
		t.Skip("starts ten processes")
	}
	bin := binary(t)
	devDir := t.TempDir()
	r := startDev(t, bin, devDir)
	max := r.tokens["contoso/max"]
	code, acct := r.do(t, call{method: "POST", path: "/v1/organizations/contoso/billingAccounts", token: max,
		body: `{"displayName":"Moved Along","soldTo":{"countryCode":"FR"}}`})
	if code != 200 {
		t.Fatalf("account on bbolt: %d %v", code, acct)
	}
	r.stop(t)

	var migrated string
	s := startEtcdSystem(t, bin, func(s *etcdSystem) {
		out, err := exec.Command(bin, "migrate", "--to", "etcd", "--etcd-endpoints", s.endpoints, "--data-dir", devDir).CombinedOutput()
		if err != nil {
			t.Fatalf("migrate: %v\n%s", err, out)
		}
		migrated = string(out)
		out, err = exec.Command(bin, "migrate", "--to", "etcd", "--etcd-endpoints", s.endpoints, "--data-dir", devDir).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "refusing to overwrite") {
			t.Fatalf("a second migrate into the same prefixes: %v\n%s", err, out)
		}
		// The services sign with the key the data was made under.
		key, err := os.ReadFile(filepath.Join(devDir, "signing.key"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(s.key, key, 0o600); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("migrate: %s", migrated)
	code, list := s.cl.do("GET", "/v1/organizations/contoso/billingAccounts", max, "", "", 30*time.Second)
	if code != 200 || !strings.Contains(fmt.Sprint(list), acct["name"].(string)) {
		t.Fatalf("the migrated account is not served from etcd: %d %v", code, list)
	}

	cli, err := kv.DialEtcd(strings.Split(s.endpoints, ","), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	// The copy holds one revision; the background work of an idle system
	// may still write between the backup and the count, so a mismatch is
	// taken again, up to three times.
	var diff []string
	for attempt := range 3 {
		out := filepath.Join(t.TempDir(), "backup")
		res, err := exec.Command(bin, "backup", "--out", out, "--signing-key", s.key, "--data-dir", s.dir,
			"--licensing-addr", strings.Join(s.addrs["licensing"], ","), "--commerce-addr", strings.Join(s.addrs["commerce"], ","),
			"--billing-addr", strings.Join(s.addrs["billing"], ",")).CombinedOutput()
		if err != nil {
			t.Fatalf("backup: %v\n%s", err, res)
		}
		diff = nil
		for _, name := range []string{"licensing", "commerce", "billing"} {
			inCopy := map[string]bool{}
			db, err := bolt.Open(filepath.Join(out, name+".db"), 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			db.View(func(tx *bolt.Tx) error {
				return tx.ForEach(func(bucket []byte, b *bolt.Bucket) error {
					return b.ForEach(func(k, _ []byte) error { inCopy[string(bucket)+"/"+string(k)] = true; return nil })
				})
			})
			db.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			all, err := cli.Get(ctx, kv.ServicePrefix(name), clientv3.WithPrefix(), clientv3.WithKeysOnly())
			cancel()
			if err != nil {
				t.Fatal(err)
			}
			inEtcd := 0
			for _, k := range all.Kvs {
				rest := string(k.Key[len(kv.ServicePrefix(name)):])
				if strings.HasPrefix(rest, "!") {
					continue // sequences and the leader's election
				}
				inEtcd++
				if !inCopy[rest] {
					diff = append(diff, name+": "+rest+" missing from the backup")
				}
			}
			if inEtcd != len(inCopy) {
				diff = append(diff, fmt.Sprintf("%s: %d keys in the backup, %d in etcd", name, len(inCopy), inEtcd))
			}
			t.Logf("attempt %d, %s: %d keys in the backup, %d in etcd", attempt, name, len(inCopy), inEtcd)
		}
		if len(diff) == 0 {
			break
		}
		time.Sleep(time.Second)
	}
	if len(diff) > 0 {
		t.Fatalf("the backup is not the store:\n%s", strings.Join(diff, "\n"))
	}
}

// TestEtcdUnreachableAtStart: a service pointed at an etcd that does not
// answer fails within its dial timeout, naming the endpoints.
func TestEtcdUnreachableAtStart(t *testing.T) {
	bin := binary(t)
	dead := freePorts(t, 2)
	start := time.Now()
	out, err := exec.Command(bin, "licensing", "--store", "etcd", "--etcd-endpoints", strings.Join(dead, ","), "--etcd-dial-timeout", "1s",
		"--data-dir", t.TempDir(), "--licensing-addr", "127.0.0.1:0").CombinedOutput()
	took := time.Since(start)
	if err == nil || !strings.Contains(string(out), dead[0]) || !strings.Contains(string(out), dead[1]) {
		t.Fatalf("start with etcd unreachable: %v\n%s", err, out)
	}
	if took > 5*time.Second {
		t.Fatalf("took %s to fail with a 1 s dial timeout", took)
	}
	t.Logf("after %s: %s", took.Round(time.Millisecond), strings.TrimSpace(string(out)))
	out, err = exec.Command(bin, "licensing", "--store", "etcd", "--data-dir", t.TempDir()).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--etcd-endpoints") {
		t.Fatalf("--store etcd without endpoints: %v\n%s", err, out)
	}
}
