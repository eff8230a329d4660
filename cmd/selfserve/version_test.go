package main

import (
	"bytes"
	"context"
	"runtime"
	"strings"
	"testing"
)

func TestVersion(t *testing.T) {
	for _, arg := range []string{"--version", "-version", "version"} {
		var out, errOut bytes.Buffer
		if err := run(context.Background(), []string{arg}, &out, &errOut); err != nil {
			t.Fatalf("%s: %v", arg, err)
		}
		line := strings.TrimSpace(out.String())
		if !strings.HasPrefix(line, "selfserve "+version) || !strings.Contains(line, runtime.Version()) || strings.Count(out.String(), "\n") != 1 {
			t.Errorf("%s printed %q", arg, out.String())
		}
	}
	old := version
	version = "v9.8.7"
	defer func() { version = old }()
	if line := versionLine(); !strings.HasPrefix(line, "selfserve v9.8.7") {
		t.Errorf("a release set by -ldflags shows as %q", line)
	}
}
