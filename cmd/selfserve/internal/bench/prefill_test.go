package bench

import (
	"path/filepath"
	"testing"
	"time"
)

// TestLargeStoreIsSmall: the licensing store of the bench's large store,
// 1,000,000 assignments, takes at most 150 bytes of pages an assignment,
// users, pools and indexes included.
func TestLargeStoreIsSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 1,000,000 assignments")
	}
	dir := t.TempDir()
	const assignments = 1000000
	res, err := benchPrefill(filepath.Join(dir, "large"), benchPrefillSpec{Subscriptions: 100, Assignments: assignments}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if res.Assignments != assignments {
		t.Fatalf("prefill wrote %d assignments, want %d", res.Assignments, assignments)
	}
	used := res.LicensingInUse
	per := float64(used) / assignments
	t.Logf("licensing.db: %d bytes in use, %.1f bytes an assignment", used, per)
	if per > 150 {
		t.Fatalf("%.1f bytes an assignment, want at most 150", per)
	}
}
