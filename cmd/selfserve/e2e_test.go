package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection/grpc_reflection_v1"

	licensingv1 "github.com/selfserve/selfserve/gen/go/selfserve/licensing/v1"
	operatorv1 "github.com/selfserve/selfserve/gen/go/selfserve/operator/v1"
	"github.com/selfserve/selfserve/services/kit/serve"
	"github.com/selfserve/selfserve/services/kit/servetest"
)

// binary builds selfserve once for the end-to-end tests.
func binary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "selfserve")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// running is a `selfserve dev` process on free loopback ports.
type running struct {
	cmd    *exec.Cmd
	url    string
	grpc   map[string]string
	tokens map[string]string
	stderr *servetest.Buffer
}

var (
	gatewayLine = regexp.MustCompile(`^\s+gateway\s+(http://\S+)`)
	grpcLine    = regexp.MustCompile(`^\s+(licensing|commerce|billing)\s+(\S+)\s+gRPC`)
	tokenLine   = regexp.MustCompile(`^\s+(operator|[a-z0-9-]+/[a-z0-9-]+)\s+\S+\s+(ey\S+)$`)
)

func startDev(t *testing.T, bin, dataDir string, extra ...string) *running {
	t.Helper()
	args := append([]string{"dev", "--data-dir", dataDir, "--http-addr", "127.0.0.1:0",
		"--licensing-addr", "127.0.0.1:0", "--commerce-addr", "127.0.0.1:0", "--billing-addr", "127.0.0.1:0"}, extra...)
	cmd := exec.Command(bin, args...)
	// Tests drive calls faster than anyone would: no rate limits unless a
	// test asks for them with the flags (which win over the environment).
	cmd.Env = append(os.Environ(), "SELFSERVE_LOG_LEVEL=warn", "SELFSERVE_RATE_LIMIT_ORG=0", "SELFSERVE_RATE_LIMIT_CALLER=0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	r := &running{cmd: cmd, grpc: map[string]string{}, tokens: map[string]string{}, stderr: &servetest.Buffer{}}
	cmd.Stderr = r.stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.stop(t) })
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("selfserve dev exited before it was ready:\n%s", r.stderr)
			}
			if m := gatewayLine.FindStringSubmatch(line); m != nil {
				r.url = m[1]
			} else if m := grpcLine.FindStringSubmatch(line); m != nil {
				r.grpc[m[1]] = m[2]
			} else if m := tokenLine.FindStringSubmatch(line); m != nil {
				r.tokens[m[1]] = m[2]
			} else if strings.HasPrefix(line, "Try:") {
				t.Logf("selfserve dev ready in %v", time.Since(start))
				go func() {
					for range lines { // keep draining
					}
				}()
				return r
			}
		case <-deadline:
			t.Fatalf("selfserve dev not ready in 30s:\n%s", r.stderr)
		}
	}
}

func (r *running) stop(t *testing.T) {
	if r.cmd.ProcessState != nil {
		return
	}
	r.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- r.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("selfserve dev did not exit cleanly: %v\n%s", err, r.stderr)
		}
	case <-time.After(15 * time.Second):
		r.cmd.Process.Kill()
		t.Errorf("selfserve dev did not stop within 15s")
	}
}

type call struct {
	method, path, token, body string
	headers                   map[string]string
}

// do sends a JSON request to the gateway and decodes the answer.
func (r *running) do(t *testing.T, c call) (int, map[string]any) {
	t.Helper()
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	req, err := http.NewRequest(c.method, r.url+c.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range c.headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s %s: not JSON (%d): %s", c.method, c.path, resp.StatusCode, raw)
	}
	return resp.StatusCode, out
}

func errorReason(body map[string]any) (reason, locale string) {
	details, _ := body["details"].([]any)
	for _, d := range details {
		m, _ := d.(map[string]any)
		switch m["@type"] {
		case "type.googleapis.com/google.rpc.ErrorInfo":
			reason, _ = m["reason"].(string)
		case "type.googleapis.com/google.rpc.LocalizedMessage":
			locale, _ = m["locale"].(string)
		}
	}
	return reason, locale
}

func TestEndToEndDirectory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := binary(t)
	data := t.TempDir()
	r := startDev(t, bin, data)
	op := r.tokens["operator"]
	if op == "" || r.tokens["contoso/ada"] == "" || r.tokens["contoso/gus"] == "" || len(r.grpc) != 3 {
		t.Fatalf("banner incomplete: tokens %v grpc %v", len(r.tokens), r.grpc)
	}

	// Probes and the API document need no token.
	if code, body := r.do(t, call{method: "GET", path: "/healthz"}); code != 200 || body["status"] != "SERVING" {
		t.Fatalf("healthz: %d %v", code, body)
	}
	if code, body := r.do(t, call{method: "GET", path: "/openapi.json"}); code != 200 || body["swagger"] != "2.0" {
		t.Fatalf("openapi: %d", code)
	}

	// No token: 401 with the contract's error body.
	code, body := r.do(t, call{method: "GET", path: "/v1/organizations/contoso", headers: map[string]string{"Accept-Language": "sv-SE"}})
	if why, loc := errorReason(body); code != 401 || why != "TOKEN_MISSING" || loc != "sv" {
		t.Fatalf("no token: %d %v", code, body)
	}

	// An operator creates an organization and its users over JSON.
	code, body = r.do(t, call{method: "POST", path: "/v1/organizations?organizationId=acme", token: op,
		body: `{"displayName":"Acme","countryCode":"FR","cloud":"GLOBAL"}`})
	if code != 200 || body["name"] != "organizations/acme" || body["cloud"] != "GLOBAL" {
		t.Fatalf("create organization: %d %v", code, body)
	}
	code, body = r.do(t, call{method: "POST", path: "/v1/organizations?organizationId=bad", token: op,
		body: `{"displayName":"Acme","countryCode":"FR","cloud":"GLOBAL","colour":"red"}`})
	if code != 400 {
		t.Fatalf("unknown field accepted: %d %v", code, body)
	}
	users := []struct{ id, body string }{
		{"alice", `{"displayName":"Alice Martin","email":"alice@acme.example","userType":"MEMBER","usageLocation":"FR","roles":["GLOBAL_ADMIN"]}`},
		{"bob", `{"displayName":"Bob Lefebvre","email":"bob@acme.example","userType":"MEMBER","usageLocation":"FR"}`},
		{"gwen", `{"displayName":"Gwen Guest","email":"gwen@elsewhere.example","userType":"GUEST","usageLocation":"GB"}`},
	}
	for _, u := range users {
		c := call{method: "POST", path: "/v1/organizations/acme/users?userId=" + u.id, token: op, body: u.body,
			headers: map[string]string{"Idempotency-Key": "create-" + u.id}}
		code, first := r.do(t, c)
		if code != 200 || first["name"] != "organizations/acme/users/"+u.id {
			t.Fatalf("create user %s: %d %v", u.id, code, first)
		}
		// The same Idempotency-Key replays the first answer and creates nothing.
		code, again := r.do(t, c)
		if code != 200 || again["createTime"] != first["createTime"] {
			t.Fatalf("replay of %s: %d %v", u.id, code, again)
		}
	}
	code, body = r.do(t, call{method: "POST", path: "/v1/organizations/acme/users?userId=carl", token: op,
		body: users[1].body, headers: map[string]string{"Idempotency-Key": "create-bob"}})
	if why, _ := errorReason(body); code != 400 || why != "REQUEST_ID_REUSED" {
		t.Fatalf("reused key: %d %v", code, body)
	}

	// The operator issues a token; it carries the stored roles.
	code, body = r.do(t, call{method: "POST", path: "/v1/organizations/acme/users/alice:issueToken", token: op, body: `{}`})
	alice, _ := body["token"].(string)
	if code != 200 || alice == "" || body["expireTime"] == nil {
		t.Fatalf("issue token: %d %v", code, body)
	}
	code, body = r.do(t, call{method: "POST", path: "/v1/organizations/acme/users?userId=dan", token: alice,
		body: `{"displayName":"Dan Roux","email":"dan@acme.example","userType":"MEMBER","usageLocation":"FR"}`})
	if code != 200 {
		t.Fatalf("a GLOBAL_ADMIN adds a user: %d %v", code, body)
	}
	code, body = r.do(t, call{method: "POST", path: "/v1/organizations/acme/users/bob:issueToken", token: alice, body: `{}`})
	if why, _ := errorReason(body); code != 403 || why != "PERMISSION_DENIED" {
		t.Fatalf("non-operator issued a token: %d %v", code, body)
	}

	// Type-ahead and pages.
	code, body = r.do(t, call{method: "GET", path: "/v1/organizations/acme/users?query=LEF", token: alice})
	if list, _ := body["users"].([]any); code != 200 || len(list) != 1 || list[0].(map[string]any)["name"] != "organizations/acme/users/bob" {
		t.Fatalf("type-ahead: %d %v", code, body)
	}
	seen := map[string]bool{}
	token := ""
	for page := 0; ; page++ {
		code, body = r.do(t, call{method: "GET", path: "/v1/organizations/acme/users?pageSize=3&pageToken=" + token, token: alice})
		if code != 200 || page > 5 {
			t.Fatalf("page %d: %d %v", page, code, body)
		}
		for _, u := range body["users"].([]any) {
			seen[u.(map[string]any)["name"].(string)] = true
		}
		if token, _ = body["nextPageToken"].(string); token == "" {
			break
		}
	}
	if len(seen) != 4 {
		t.Fatalf("paging saw %d users", len(seen))
	}

	// Another organization's user gets 404, for users and for the organization.
	ada := r.tokens["contoso/ada"]
	for _, path := range []string{"/v1/organizations/acme", "/v1/organizations/acme/users/bob", "/v1/organizations/acme/users"} {
		code, body = r.do(t, call{method: "GET", path: path, token: ada})
		if why, _ := errorReason(body); code != 404 || why != "RESOURCE_NOT_FOUND" {
			t.Fatalf("cross-organization %s: %d %v", path, code, body)
		}
	}

	// Over gRPC, with reflection, health and the same token.
	conn, err := serve.Dial(r.grpc["licensing"])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil || resp.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health: %v %v", resp, err)
	}
	stream, err := grpc_reflection_v1.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stream.Send(&grpc_reflection_v1.ServerReflectionRequest{MessageRequest: &grpc_reflection_v1.ServerReflectionRequest_ListServices{ListServices: ""}})
	refl, err := stream.Recv()
	if err != nil || !strings.Contains(fmt.Sprint(refl.GetListServicesResponse()), "selfserve.licensing.v1.DirectoryService") {
		t.Fatalf("reflection: %v %v", refl, err)
	}
	actx := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+alice)
	u, err := licensingv1.NewDirectoryServiceClient(conn).GetUser(actx, &licensingv1.GetUserRequest{Name: "organizations/acme/users/gwen"})
	if err != nil || u.UserType != licensingv1.User_GUEST {
		t.Fatalf("gRPC get user: %v %v", u, err)
	}

	// `selfserve token --operator` signs with the same key, without the server.
	out, err := exec.Command(bin, "token", "--operator", "--data-dir", data).Output()
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := r.do(t, call{method: "GET", path: "/v1/organizations/acme", token: strings.TrimSpace(string(out))}); code != 200 {
		t.Fatalf("offline operator token refused: %d", code)
	}

	// A restart keeps every record.
	r.stop(t)
	r = startDev(t, bin, data)
	if code, body := r.do(t, call{method: "GET", path: "/v1/organizations/acme/users/dan", token: r.tokens["operator"]}); code != 200 {
		t.Fatalf("user lost on restart: %d %v", code, body)
	}
}

func TestEndToEndManualClock(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	r := startDev(t, binary(t), t.TempDir(), "--clock", "manual", "--seed=false")
	op := r.tokens["operator"]
	if len(r.tokens) != 1 {
		t.Fatalf("--seed=false printed demo tokens: %v", r.tokens)
	}
	code, before := r.do(t, call{method: "GET", path: "/v1/clock", token: op})
	if code != 200 || before["mode"] != "MANUAL" {
		t.Fatalf("clock: %d %v", code, before)
	}
	code, after := r.do(t, call{method: "POST", path: "/v1/clock:advance", token: op, body: `{"duration":"86400s"}`})
	if code != 200 {
		t.Fatalf("advance: %d %v", code, after)
	}
	t0, _ := time.Parse(time.RFC3339Nano, before["now"].(string))
	t1, _ := time.Parse(time.RFC3339Nano, after["now"].(string))
	if d := t1.Sub(t0); d < 24*time.Hour || d > 24*time.Hour+time.Minute {
		t.Fatalf("advanced by %v", d)
	}
	if got := fmt.Sprint(after["services"]); got != "[licensing billing commerce]" {
		t.Fatalf("services moved: %s", got)
	}
	// Every service's clock moved, read over gRPC.
	for name, addr := range r.grpc {
		conn, err := serve.Dial(addr)
		if err != nil {
			t.Fatal(err)
		}
		ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+op)
		c, err := operatorv1.NewClockServiceClient(conn).GetClock(ctx, &operatorv1.GetClockRequest{})
		conn.Close()
		if err != nil || !c.Now.AsTime().Equal(t1) {
			t.Fatalf("%s clock at %v, gateway said %v (%v)", name, c.GetNow().AsTime(), t1, err)
		}
	}
}
