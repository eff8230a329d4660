package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/selfserve/selfserve/services/kit/auth"
)

func devFlags() *flagSet {
	f := newFlags("dev", io.Discard)
	f.dataDir()
	f.addrs(true, true, true, true)
	f.service(true)
	f.webhooks()
	f.common()
	return f
}

func TestFlagsEnvironmentAndDefaults(t *testing.T) {
	t.Setenv("SELFSERVE_HTTP_ADDR", "127.0.0.1:18080")
	t.Setenv("SELFSERVE_DATA_DIR", "/tmp/from-env")
	t.Setenv("SELFSERVE_SEED", "false")
	t.Setenv("SELFSERVE_CLOCK", "manual")
	cfg, err := devFlags().parse([]string{"--data-dir", "/tmp/from-flag"})
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case cfg.HTTPAddr != "127.0.0.1:18080":
		t.Errorf("env not read: %s", cfg.HTTPAddr)
	case cfg.DataDir != "/tmp/from-flag":
		t.Errorf("the command line must win over the environment: %s", cfg.DataDir)
	case cfg.SigningKey != filepath.Join("/tmp/from-flag", "signing.key"):
		t.Errorf("signing key default: %s", cfg.SigningKey)
	case cfg.Seed || cfg.Clock != "manual":
		t.Errorf("seed %v clock %s", cfg.Seed, cfg.Clock)
	case cfg.LicensingAddr != "127.0.0.1:9101" || cfg.CommerceAddr != "127.0.0.1:9102" || cfg.BillingAddr != "127.0.0.1:9103":
		t.Errorf("default addresses: %+v", cfg)
	}
}

func TestFlagsRefuseBadValues(t *testing.T) {
	if _, err := devFlags().parse([]string{"--clock", "sundial"}); err == nil {
		t.Error("bad clock accepted")
	}
	if _, err := devFlags().parse([]string{"--audit-retention-months", "-1"}); err == nil || !strings.Contains(err.Error(), "--audit-retention-months") {
		t.Errorf("negative retention: %v", err)
	}
	t.Setenv("SELFSERVE_SEED", "perhaps")
	if _, err := devFlags().parse(nil); err == nil || !strings.Contains(err.Error(), "SELFSERVE_SEED") {
		t.Errorf("bad environment value: %v", err)
	}
	if _, err := devFlags().parse([]string{"--no-such-flag"}); !errors.Is(err, errUsage) {
		t.Errorf("unknown flag: %v", err)
	}
}

func TestTokenCommand(t *testing.T) {
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"token", "--operator", "--data-dir", dir}, &out, &errOut); err != nil {
		t.Fatal(err, errOut.String())
	}
	key, err := auth.LoadKey(filepath.Join(dir, "signing.key"))
	if err != nil {
		t.Fatal(err)
	}
	s, _ := auth.NewSigner(key)
	c, err := s.Verify(strings.TrimSpace(out.String()), time.Now())
	if err != nil || c.Subject != "operator" || len(c.Roles) != 1 || c.Roles[0] != auth.Operator {
		t.Fatalf("operator token: %+v %v", c, err)
	}
	if err := run(context.Background(), []string{"token", "--data-dir", dir}, &out, &errOut); err == nil {
		t.Error("a user token was made offline")
	}
	if err := run(context.Background(), []string{"nope"}, &out, &errOut); !errors.Is(err, errUsage) {
		t.Error("unknown command")
	}
}

func TestLogFormat(t *testing.T) {
	for format, want := range map[string]string{"text": "level=INFO msg=hello", "json": `"msg":"hello"`, "": "level=INFO msg=hello"} {
		var buf bytes.Buffer
		log, err := (&config{LogLevel: "info", LogFormat: format}).logger(&buf)
		if err != nil {
			t.Fatalf("%q: %v", format, err)
		}
		log.Info("hello")
		if !strings.Contains(buf.String(), want) {
			t.Errorf("--log-format %q wrote %q, want %q in it", format, buf.String(), want)
		}
	}
	if _, err := (&config{LogLevel: "info", LogFormat: "xml"}).logger(io.Discard); err == nil || !strings.Contains(err.Error(), "--log-format") {
		t.Errorf("--log-format xml: %v", err)
	}
}
