package selfserve_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
)

// TestComposeHealthchecks: every selfserve container is health-checked by
// the image's own binary (the runtime image has no shell), asking the address
// the container listens on, and each gateway starts once the services it
// calls are healthy.
func TestComposeHealthchecks(t *testing.T) {
	p := loadComposeProfiles(t, []string{"etcd"})
	var entrypoint string
	for _, in := range readDockerfile(t) {
		if in.cmd == "ENTRYPOINT" {
			entrypoint = in.args
		}
	}
	binary := strings.Trim(strings.TrimSpace(entrypoint), `[]"`)
	if binary == "" {
		t.Fatal("the Dockerfile has no ENTRYPOINT")
	}
	checked := 0
	for name, s := range p.Services {
		if strings.HasPrefix(name, "etcd-") {
			continue
		}
		hc := s.HealthCheck
		if hc == nil || hc.Disable {
			t.Errorf("%s: no healthcheck", name)
			continue
		}
		env := envOf(t, s)
		listen, port := env[httpAddrEnv], httpPort
		want := "http://127.0.0.1:" + port + "/healthz"
		for _, c := range grpcComponents {
			if slices.Equal([]string(s.Command), []string{c.name}) {
				listen, port = env[c.addrEnv], c.port
				want = "127.0.0.1:" + port
			}
		}
		if listen != "0.0.0.0:"+port {
			t.Errorf("%s: listens on %q, not on port %s of every interface that the healthcheck asks", name, listen, port)
		}
		wantTest := []string{"CMD", binary, "healthcheck", "--addr", want}
		if !slices.Equal([]string(hc.Test), wantTest) {
			t.Errorf("%s: healthcheck test %q, want %q", name, hc.Test, wantTest)
		}
		if hc.Interval == nil || hc.Timeout == nil || *hc.Timeout >= *hc.Interval || hc.Retries == nil || *hc.Retries == 0 {
			t.Errorf("%s: healthcheck timing %+v: want an interval, a shorter timeout and retries", name, hc)
		}
		checked++
	}
	if checked != 8 {
		t.Errorf("checked %d selfserve services, want 8 (4 in each stack)", checked)
	}
	for gw, suffix := range map[string]string{"gateway": "", "gateway-etcd": "-etcd"} {
		for _, c := range grpcComponents {
			if d, ok := p.Services[gw].DependsOn[c.name+suffix]; !ok || d.Condition != types.ServiceConditionHealthy {
				t.Errorf("%s does not wait for %s to be healthy", gw, c.name+suffix)
			}
		}
	}
}
