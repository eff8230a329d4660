package openapilint

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// document is the file the linters read, the one gen.OpenAPI embeds.
var document = filepath.Join("..", "..", "gen", "openapi", "selfserve.swagger.json")

// linters skips t unless `npm ci` has installed the pinned linters here.
func linters(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs Node")
	}
	if _, err := os.Stat("node_modules"); err != nil {
		t.Skip("the OpenAPI linters are not installed: run `cd tools/openapi-lint && npm ci` (Node 20 or newer), as .ci/run does")
	}
	if _, err := exec.LookPath("npx"); err != nil {
		t.Skip("node_modules is here but npx is not on PATH")
	}
}

// lint runs one pinned linter, which exits non-zero on an error.
func lint(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command("npx", append([]string{"--no-install"}, args...)...)
	cmd.Env = append(os.Environ(), "REDOCLY_TELEMETRY=off", "REDOCLY_SUPPRESS_UPDATE_NOTICE=true", "NO_COLOR=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %v\n%s", args, err, out)
	}
	t.Logf("%s", out)
}

func TestOpenAPIRedoclyLint(t *testing.T) {
	linters(t)
	lint(t, "redocly", "lint", "--config", "redocly.yaml", document)
}

func TestOpenAPISpectralLint(t *testing.T) {
	linters(t)
	lint(t, "spectral", "lint", "--ruleset", ".spectral.yaml", "--fail-severity", "error", document)
}
