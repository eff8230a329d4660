package selfserve_test

// These tests load docker-compose.yaml the way `docker compose` does (with
// compose-go, no Docker engine needed) and check that the stack it describes
// is the one API.md §1 asks for: one container per component, all from the
// image the root Dockerfile builds, each store on its own volume, one shared
// signing key, and addresses that let the components find each other.

import (
	"bufio"
	"context"
	"maps"
	"net"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"golang.org/x/mod/modfile"
)

const composeFile = "docker-compose.yaml"

// knownFlags are the selfserve flags that can be set through SELFSERVE_* variables.
var knownFlags = []string{
	"data-dir", "signing-key", "http-addr",
	"licensing-addr", "commerce-addr", "billing-addr",
	"clock", "seed", "store", "etcd-endpoints", "metrics-addr", "log-format",
}

// grpcComponent is a gRPC service: it listens on its port and keeps a store.
type grpcComponent struct {
	name    string // compose service name and subcommand
	addrEnv string // the variable holding its address
	port    string
}

var grpcComponents = []grpcComponent{
	{"licensing", "SELFSERVE_LICENSING_ADDR", "9101"},
	{"commerce", "SELFSERVE_COMMERCE_ADDR", "9102"},
	{"billing", "SELFSERVE_BILLING_ADDR", "9103"},
}

const (
	gatewayService = "gateway"
	httpAddrEnv    = "SELFSERVE_HTTP_ADDR"
	httpPort       = "8080"
	keysVolume     = "keys"
)

// loadCompose loads the compose file from the repository root with only the
// given variables in the environment (no OS environment, no .env file), so
// the result does not depend on the machine running the test.
func loadCompose(t *testing.T, env ...string) *types.Project {
	t.Helper()
	return loadComposeProfiles(t, nil, env...)
}

// loadComposeProfiles is loadCompose with the given profiles active.
func loadComposeProfiles(t *testing.T, profiles []string, env ...string) *types.Project {
	t.Helper()
	root, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	opts, err := cli.NewProjectOptions(
		[]string{filepath.Join(root, composeFile)},
		cli.WithWorkingDirectory(root),
		cli.WithEnv(env),
		cli.WithInterpolation(true),
		cli.WithNormalization(true),
		cli.WithConsistency(true),
		cli.WithResolvedPaths(true),
		cli.WithProfiles(profiles),
	)
	if err != nil {
		t.Fatalf("compose options: %v", err)
	}
	project, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("loading %s: %v", composeFile, err)
	}
	return project
}

// envOf returns the service's environment with every value set.
func envOf(t *testing.T, s types.ServiceConfig) map[string]string {
	t.Helper()
	env := map[string]string{}
	for k, v := range s.Environment {
		if v == nil {
			t.Errorf("service %s: %s has no value", s.Name, k)
			continue
		}
		env[k] = *v
	}
	return env
}

// volumeAt returns the mount of the service whose target is dir.
func volumeAt(s types.ServiceConfig, dir string) (types.ServiceVolumeConfig, bool) {
	for _, v := range s.Volumes {
		if path.Clean(v.Target) == path.Clean(dir) {
			return v, true
		}
	}
	return types.ServiceVolumeConfig{}, false
}

func TestComposeServices(t *testing.T) {
	p := loadCompose(t)

	want := []string{gatewayService}
	for _, c := range grpcComponents {
		want = append(want, c.name)
	}
	slices.Sort(want)
	got := slices.Sorted(maps.Keys(p.Services))
	if !slices.Equal(got, want) {
		t.Fatalf("services = %v, want exactly %v", got, want)
	}

	root, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	image := p.Services[gatewayService].Image
	for _, name := range want {
		s := p.Services[name]
		if !slices.Equal([]string(s.Command), []string{name}) {
			t.Errorf("service %s: command = %q, want [%q]", name, s.Command, name)
		}
		if len(s.Entrypoint) != 0 {
			t.Errorf("service %s: entrypoint = %q, want the image's (selfserve)", name, s.Entrypoint)
		}
		if s.Build == nil {
			t.Errorf("service %s: no build section", name)
		} else {
			if filepath.Clean(s.Build.Context) != root {
				t.Errorf("service %s: build context = %q, want the repository root %q", name, s.Build.Context, root)
			}
			if df := s.Build.Dockerfile; df != "Dockerfile" && filepath.Clean(df) != filepath.Join(root, "Dockerfile") {
				t.Errorf("service %s: dockerfile = %q, want the root Dockerfile", name, df)
			}
		}
		if s.Image == "" || s.Image != image {
			t.Errorf("service %s: image = %q, want the one image %q shared by every service", name, s.Image, image)
		}
		if s.Restart != types.RestartPolicyUnlessStopped {
			t.Errorf("service %s: restart = %q, want %q", name, s.Restart, types.RestartPolicyUnlessStopped)
		}
	}

	gw := p.Services[gatewayService]
	for _, c := range grpcComponents {
		dep, ok := gw.DependsOn[c.name]
		if !ok {
			t.Errorf("gateway does not depend on %s", c.name)
			continue
		}
		if dep.Condition != types.ServiceConditionStarted && dep.Condition != types.ServiceConditionHealthy {
			t.Errorf("gateway depends on %s with condition %q", c.name, dep.Condition)
		}
		if dep.Condition == types.ServiceConditionHealthy && p.Services[c.name].HealthCheck == nil {
			t.Errorf("gateway waits for %s to be healthy, but it has no healthcheck", c.name)
		}
	}
}

func TestComposeVolumes(t *testing.T) {
	p := loadCompose(t)

	// Every component mounts the shared key volume, writable (the first to
	// start creates the key), at the directory of its signing key.
	keyDirs := map[string]string{}
	for name, s := range p.Services {
		env := envOf(t, s)
		key := env["SELFSERVE_SIGNING_KEY"]
		if !path.IsAbs(key) {
			t.Errorf("service %s: SELFSERVE_SIGNING_KEY = %q, want an absolute path on the %q volume", name, key, keysVolume)
			continue
		}
		dir := path.Dir(key)
		keyDirs[name] = dir
		v, ok := volumeAt(s, dir)
		switch {
		case !ok:
			t.Errorf("service %s: nothing mounted at %s, the directory of its signing key", name, dir)
		case v.Type != types.VolumeTypeVolume || v.Source != keysVolume:
			t.Errorf("service %s: %s is %s %q, want the named volume %q", name, dir, v.Type, v.Source, keysVolume)
		case v.ReadOnly:
			t.Errorf("service %s: %q is read-only, but any component may have to create the key", name, keysVolume)
		}
	}
	if _, ok := p.Volumes[keysVolume]; !ok {
		t.Errorf("volume %q is not declared", keysVolume)
	}

	// Each store lives on its own named volume, at the service's data dir.
	owner := map[string]string{} // data volume -> service
	for _, c := range grpcComponents {
		s := p.Services[c.name]
		env := envOf(t, s)
		dir := env["SELFSERVE_DATA_DIR"]
		if !path.IsAbs(dir) {
			t.Errorf("service %s: SELFSERVE_DATA_DIR = %q, want an absolute path", c.name, dir)
			continue
		}
		if path.Clean(dir) == keyDirs[c.name] {
			t.Errorf("service %s: data dir %s is also the key directory", c.name, dir)
		}
		v, ok := volumeAt(s, dir)
		if !ok {
			t.Errorf("service %s: nothing mounted at its data dir %s", c.name, dir)
			continue
		}
		if v.Type != types.VolumeTypeVolume || v.Source == "" {
			t.Errorf("service %s: data dir %s is %s %q, want a named volume", c.name, dir, v.Type, v.Source)
			continue
		}
		if v.ReadOnly {
			t.Errorf("service %s: data volume %q is read-only", c.name, v.Source)
		}
		if v.Source == keysVolume {
			t.Errorf("service %s: store on the shared %q volume", c.name, keysVolume)
		}
		if _, ok := p.Volumes[v.Source]; !ok {
			t.Errorf("service %s: volume %q is not declared", c.name, v.Source)
		}
		if other, dup := owner[v.Source]; dup {
			t.Errorf("services %s and %s share the data volume %q", other, c.name, v.Source)
		}
		owner[v.Source] = c.name
	}

	// No other service mounts a component's data volume.
	for name, s := range p.Services {
		for _, v := range s.Volumes {
			if o, ok := owner[v.Source]; ok && o != name {
				t.Errorf("service %s mounts %s's data volume %q", name, o, v.Source)
			}
		}
	}
}

func TestComposeAddresses(t *testing.T) {
	p := loadCompose(t)

	for name, s := range p.Services {
		env := envOf(t, s)
		listen := ""
		for _, c := range grpcComponents {
			want := net.JoinHostPort(c.name, c.port) // dial the peer by service name
			if c.name == name {
				want = net.JoinHostPort("0.0.0.0", c.port) // listen on every interface
				listen = c.port
			}
			if got := env[c.addrEnv]; got != want {
				t.Errorf("service %s: %s = %q, want %q", name, c.addrEnv, got, want)
			}
		}
		if name == gatewayService {
			listen = httpPort
			if got, want := env[httpAddrEnv], net.JoinHostPort("0.0.0.0", httpPort); got != want {
				t.Errorf("gateway: %s = %q, want %q", httpAddrEnv, got, want)
			}
		}
		// Anything published reaches the port the service listens on.
		for _, port := range s.Ports {
			if got := strings.TrimSpace(port.Published); got == "" || port.Target == 0 {
				t.Errorf("service %s: port %+v is not a fixed published port", name, port)
			} else if tgt := itoa(port.Target); tgt != listen {
				t.Errorf("service %s: publishes container port %s, but it listens on %s", name, tgt, listen)
			}
		}
	}

	gw := p.Services[gatewayService]
	published := false
	for _, port := range gw.Ports {
		if itoa(port.Target) == httpPort && port.Published == httpPort {
			published = true
		}
	}
	if !published {
		t.Errorf("gateway does not publish %s:%s (ports: %+v)", httpPort, httpPort, gw.Ports)
	}
}

func TestComposeClock(t *testing.T) {
	for _, tc := range []struct {
		env  []string
		want string
	}{
		{nil, "system"},
		{[]string{"SELFSERVE_CLOCK=manual"}, "manual"},
	} {
		p := loadCompose(t, tc.env...)
		for name, s := range p.Services {
			if got := envOf(t, s)["SELFSERVE_CLOCK"]; got != tc.want {
				t.Errorf("env %q: service %s: SELFSERVE_CLOCK = %q, want %q", tc.env, name, got, tc.want)
			}
		}
	}
}

func TestComposeEnvironmentNamesFlags(t *testing.T) {
	p := loadComposeProfiles(t, []string{"etcd"})
	for name, s := range p.Services {
		for k := range s.Environment {
			flag, ok := strings.CutPrefix(k, "SELFSERVE_")
			if !ok {
				continue
			}
			flag = strings.ReplaceAll(strings.ToLower(flag), "_", "-")
			if !slices.Contains(knownFlags, flag) {
				t.Errorf("service %s: %s is not a selfserve flag (known: %v)", name, k, knownFlags)
			}
		}
	}
}

// dockerInstruction is one Dockerfile instruction with continuations joined.
type dockerInstruction struct {
	cmd  string // upper case
	args string
}

func readDockerfile(t *testing.T) []dockerInstruction {
	t.Helper()
	f, err := os.Open("Dockerfile")
	if err != nil {
		t.Fatalf("the compose file builds the root Dockerfile: %v", err)
	}
	defer f.Close()
	var out []dockerInstruction
	var cur strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") || (line == "" && cur.Len() == 0) {
			continue
		}
		if s, ok := strings.CutSuffix(line, `\`); ok {
			cur.WriteString(s + " ")
			continue
		}
		cur.WriteString(line)
		cmd, args, _ := strings.Cut(strings.TrimSpace(cur.String()), " ")
		out = append(out, dockerInstruction{strings.ToUpper(cmd), strings.Join(strings.Fields(args), " ")})
		cur.Reset()
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// workspaceModules returns the directories go.work uses, relative to the root.
func workspaceModules(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile("go.work")
	if err != nil {
		t.Fatal(err)
	}
	wf, err := modfile.ParseWork("go.work", data, nil)
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, u := range wf.Use {
		dirs = append(dirs, path.Clean(filepath.ToSlash(u.Path)))
	}
	return dirs
}

func TestComposeDockerfile(t *testing.T) {
	ins := readDockerfile(t)

	var froms []int
	for i, in := range ins {
		if in.cmd == "FROM" {
			froms = append(froms, i)
		}
	}
	if len(froms) < 2 {
		t.Fatalf("want a multi-stage build, got %d FROM", len(froms))
	}
	build := ins[froms[0]].args
	if !strings.Contains(build, "golang:1.26") {
		t.Errorf("build stage FROM %s, want golang:1.26", build)
	}
	final := ins[froms[len(froms)-1]:]
	if strings.Contains(final[0].args, "golang:") {
		t.Errorf("runtime stage FROM %s: want a small runtime image, not the Go toolchain", final[0].args)
	}

	// The build: a static binary from ./cmd/selfserve.
	copyAll, download, goBuild := -1, -1, -1
	for i, in := range ins[:froms[len(froms)-1]] {
		switch {
		case in.cmd == "COPY" && strings.HasSuffix(in.args, ". .") && copyAll < 0:
			copyAll = i
		case in.cmd == "RUN" && strings.Contains(in.args, "go mod download") && download < 0:
			download = i
		case in.cmd == "RUN" && strings.Contains(in.args, "go build"):
			goBuild = i
			if !strings.Contains(in.args, "./cmd/selfserve") {
				t.Errorf("go build does not build ./cmd/selfserve: %s", in.args)
			}
			if !strings.Contains(in.args, "CGO_ENABLED=0") {
				t.Errorf("go build without CGO_ENABLED=0: %s", in.args)
			}
		}
	}
	if copyAll < 0 || goBuild < 0 {
		t.Fatalf("want COPY . . and RUN go build in the build stage (copy at %d, build at %d)", copyAll, goBuild)
	}
	if download < 0 || download > copyAll {
		t.Errorf("want go mod download before the sources are copied, for a cached dependency layer")
	}

	// go.work and the go.mod of every workspace module are copied before the
	// sources, so the dependency layer only changes with the dependencies.
	copied := map[string]bool{}
	for _, in := range ins[froms[0]:copyAll] {
		if in.cmd != "COPY" {
			continue
		}
		for _, f := range strings.Fields(in.args) {
			copied[path.Clean(f)] = true
		}
	}
	need := []string{"go.work"}
	for _, dir := range workspaceModules(t) {
		need = append(need, path.Join(dir, "go.mod"))
	}
	for _, f := range need {
		if !copied[f] {
			t.Errorf("%s is not copied before the sources", f)
		}
		if _, err := os.Stat(f); err != nil {
			t.Errorf("go.work needs %s: %v", f, err)
		}
	}

	// The runtime stage runs the binary as a non-root user.
	var user, entrypoint string
	for _, in := range final {
		switch in.cmd {
		case "USER":
			user = in.args
		case "ENTRYPOINT":
			entrypoint = in.args
		}
	}
	if u, _, _ := strings.Cut(user, ":"); u == "" || u == "root" || u == "0" {
		t.Errorf("runtime stage USER %q, want a non-root user", user)
	}
	if !strings.Contains(entrypoint, "selfserve") {
		t.Errorf("ENTRYPOINT %s, want the selfserve binary (compose only passes the subcommand)", entrypoint)
	}

	// Each directory compose mounts a volume on exists in the image (so a
	// fresh volume takes its owner, the non-root user).
	text, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	p := loadCompose(t)
	for name, s := range p.Services {
		for _, v := range s.Volumes {
			if !strings.Contains(string(text), v.Target) {
				t.Errorf("service %s mounts %q on %s, which the Dockerfile never creates", name, v.Source, v.Target)
			}
		}
	}
}

func TestComposeDockerignore(t *testing.T) {
	data, err := os.ReadFile(".dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	for line := range strings.Lines(string(data)) {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") && !strings.HasPrefix(line, "!") {
			patterns = append(patterns, strings.TrimPrefix(path.Clean(line), "/"))
		}
	}
	ignored := func(name string) bool {
		for _, pat := range patterns {
			// A pattern excludes the path itself or any directory above it.
			for p := name; p != "." && p != "/"; p = path.Dir(p) {
				if ok, _ := path.Match(pat, p); ok {
					return true
				}
				if rest, ok := strings.CutPrefix(pat, "**/"); ok {
					if ok, _ := path.Match(rest, path.Base(p)); ok {
						return true
					}
				}
			}
		}
		return false
	}

	// The build needs the whole workspace.
	need := []string{"go.work", "cmd/selfserve/main.go"}
	for _, dir := range workspaceModules(t) {
		need = append(need, path.Join(dir, "go.mod"), path.Join(dir, "go.sum"), path.Join(dir, "x.go"))
	}
	for _, f := range need {
		if ignored(f) {
			t.Errorf(".dockerignore excludes %s, which the build needs", f)
		}
	}
	// Local state must never reach the image.
	for _, f := range []string{".git/HEAD", "data/licensing.db", "data/signing.key"} {
		if !ignored(f) {
			t.Errorf(".dockerignore lets %s into the build context", f)
		}
	}
}

func itoa(n uint32) string { return strconv.FormatUint(uint64(n), 10) }
