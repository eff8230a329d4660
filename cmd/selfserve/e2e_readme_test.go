package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// walkthroughMarker opens the README's first-purchase block.
const walkthroughMarker = "<!-- walkthrough:"

// readmeWalkthrough is the shell block that follows the marker in README.md.
func readmeWalkthrough(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(raw), walkthroughMarker)
	if !ok {
		t.Fatal("README.md has no walkthrough block")
	}
	_, block, ok := strings.Cut(after, "```sh\n")
	if !ok {
		t.Fatal("the walkthrough marker is not followed by a sh block")
	}
	block, _, ok = strings.Cut(block, "```")
	if !ok {
		t.Fatal("the walkthrough block is not closed")
	}
	return block
}

// TestEndToEndReadmeWalkthrough runs the README's account → card → profile →
// purchase commands, as written, against a fresh dev: only the gateway's
// address and the way the binary is started change.
func TestEndToEndReadmeWalkthrough(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	for _, tool := range []string{"bash", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("the walkthrough needs %s: %v", tool, err)
		}
	}
	script := readmeWalkthrough(t)
	for _, want := range []string{"GW=http://127.0.0.1:8080\n", "go run ./cmd/selfserve token --operator"} {
		if !strings.Contains(script, want) {
			t.Fatalf("the walkthrough no longer has %q", want)
		}
	}
	bin := binary(t)
	dataDir := t.TempDir()
	r := startDev(t, bin, dataDir)
	script = strings.Replace(script, "GW=http://127.0.0.1:8080\n", "GW="+r.url+"\n", 1)
	script = strings.ReplaceAll(script, "go run ./cmd/selfserve", bin)

	cmd := exec.Command("bash", "-eu", "-o", "pipefail", "-c", script)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "SELFSERVE_DATA_DIR="+dataDir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the walkthrough failed: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 4 {
		t.Fatalf("want 4 answers (refused purchase, profile, purchase, invoices), got %d:\n%s", len(lines), out)
	}
	for i, want := range []*regexp.Regexp{
		regexp.MustCompile(`"reason": *"PAYMENT_METHOD_REQUIRED".*"billing_profile": *"organizations/contoso/billingAccounts/ba-[a-z0-9]+/billingProfiles/default"`),
		regexp.MustCompile(`"paymentMethod": *"organizations/contoso/billingAccounts/ba-[a-z0-9]+/paymentMethods/pm-[a-z0-9]+"`),
		regexp.MustCompile(`"state": *"ACTIVE".*"quantity": *3,`),
		regexp.MustCompile(`"invoices": *\[\{.*"status": *"PAID"`),
	} {
		if !want.MatchString(lines[i]) {
			t.Errorf("answer %d does not match %s:\n%s", i+1, want, lines[i])
		}
	}
	if strings.Contains(string(out), "4242424242424242") || strings.Contains(string(out), `"securityCode"`) {
		t.Errorf("an answer shows the card's secrets:\n%s", out)
	}
}
