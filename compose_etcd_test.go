package selfserve_test

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/selfserve/selfserve/services/kit/kv/etcdembed"
)

var etcdMembers = []string{"etcd-1", "etcd-2", "etcd-3"}

// flagValue returns the value of --name=value in a command.
func flagValue(cmd []string, name string) string {
	for _, a := range cmd {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v
		}
	}
	return ""
}

// The etcd profile: a 3-member cluster of the official image, pinned, and
// two replicas of each service on it behind their own gateway.
func TestComposeEtcdProfile(t *testing.T) {
	// Without the profile, none of it starts.
	for name := range loadCompose(t).Services {
		if strings.Contains(name, "etcd") {
			t.Errorf("service %s starts without --profile etcd", name)
		}
	}
	p := loadComposeProfiles(t, []string{"etcd"})

	var cluster []string
	for _, m := range etcdMembers {
		cluster = append(cluster, fmt.Sprintf("%s=http://%s:2380", m, m))
	}
	for _, m := range etcdMembers {
		s, ok := p.Services[m]
		if !ok {
			t.Fatalf("no service %s", m)
		}
		repo, tag, _ := strings.Cut(s.Image, ":")
		if repo != "gcr.io/etcd-development/etcd" || !strings.HasPrefix(tag, "v3.7.") {
			t.Errorf("%s: image %q, want the official etcd image pinned to a v3.7 release", m, s.Image)
		}
		cmd := []string(s.Command)
		for flag, want := range map[string]string{
			"name":                        m,
			"advertise-client-urls":       "http://" + m + ":2379",
			"initial-advertise-peer-urls": "http://" + m + ":2380",
			"initial-cluster":             strings.Join(cluster, ","),
			"initial-cluster-state":       "new",
			"listen-client-urls":          "http://0.0.0.0:2379",
			"listen-peer-urls":            "http://0.0.0.0:2380",
			"max-txn-ops":                 strconv.Itoa(etcdembed.MaxTxnOps),
			"max-request-bytes":           strconv.Itoa(etcdembed.MaxRequestBytes),
		} {
			if got := flagValue(cmd, flag); got != want {
				t.Errorf("%s: --%s=%q, want %q", m, flag, got, want)
			}
		}
		dir := flagValue(cmd, "data-dir")
		if v, ok := volumeAt(s, dir); !ok || v.Type != types.VolumeTypeVolume || v.Source != m+"-data" {
			t.Errorf("%s: its data dir %q is not on its own volume %s-data", m, dir, m)
		}
		if s.HealthCheck == nil || len(s.HealthCheck.Test) == 0 || !slices.Contains(s.HealthCheck.Test, "health") {
			t.Errorf("%s: no etcdctl endpoint health check", m)
		}
	}

	endpoints := []string{}
	for _, m := range etcdMembers {
		endpoints = append(endpoints, net.JoinHostPort(m, "2379"))
	}
	image := p.Services[gatewayService].Image
	for _, c := range grpcComponents {
		name := c.name + "-etcd"
		s, ok := p.Services[name]
		if !ok {
			t.Fatalf("no service %s", name)
		}
		if !slices.Equal([]string(s.Command), []string{c.name}) || s.Image != image {
			t.Errorf("%s: command %q image %q, want [%s] of %s", name, s.Command, s.Image, c.name, image)
		}
		if s.Deploy == nil || s.Deploy.Replicas == nil || *s.Deploy.Replicas != 2 {
			t.Errorf("%s: want deploy.replicas 2", name)
		}
		if len(s.Ports) != 0 {
			t.Errorf("%s: replicas publish ports %v (two cannot share one)", name, s.Ports)
		}
		env := envOf(t, s)
		if env["SELFSERVE_STORE"] != "etcd" || env["SELFSERVE_ETCD_ENDPOINTS"] != strings.Join(endpoints, ",") {
			t.Errorf("%s: store %q at %q, want etcd at %s", name, env["SELFSERVE_STORE"], env["SELFSERVE_ETCD_ENDPOINTS"], strings.Join(endpoints, ","))
		}
		for _, peer := range grpcComponents {
			want := "dns:///" + peer.name + "-etcd:" + peer.port // every replica, round robin
			if peer.name == c.name {
				want = "0.0.0.0:" + peer.port
			}
			if got := env[peer.addrEnv]; got != want {
				t.Errorf("%s: %s = %q, want %q", name, peer.addrEnv, got, want)
			}
		}
		for _, m := range etcdMembers {
			if d, ok := s.DependsOn[m]; !ok || d.Condition != types.ServiceConditionHealthy {
				t.Errorf("%s: does not wait for %s to be healthy", name, m)
			}
		}
		if v, ok := volumeAt(s, "/keys"); !ok || v.Source != "etcd-keys" {
			t.Errorf("%s: the replicas do not share the etcd-keys volume at /keys", name)
		}
	}
	gw := p.Services["gateway-etcd"]
	env := envOf(t, gw)
	for _, c := range grpcComponents {
		if got, want := env[c.addrEnv], "dns:///"+c.name+"-etcd:"+c.port; got != want {
			t.Errorf("gateway-etcd: %s = %q, want %q", c.addrEnv, got, want)
		}
		if _, ok := gw.DependsOn[c.name+"-etcd"]; !ok {
			t.Errorf("gateway-etcd does not depend on %s-etcd", c.name)
		}
	}
	if len(gw.Ports) != 1 || gw.Ports[0].Published != "8081" || gw.Ports[0].Target != 8080 {
		t.Errorf("gateway-etcd ports %+v, want 127.0.0.1:8081 → 8080", gw.Ports)
	}
}
