package bench

import (
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
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
	// The pages in use: the file itself grows ahead in chunks (doubling up
	// to 1 GiB), which at this size is most of it.
	db, err := bolt.Open(filepath.Join(dir, "large", "licensing", "licensing.db"), 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var used int64
	db.View(func(tx *bolt.Tx) error {
		st := db.Stats()
		used = tx.Size() - int64(st.FreePageN+st.PendingPageN)*int64(db.Info().PageSize)
		return nil
	})
	per := float64(used) / assignments
	t.Logf("licensing.db: %d bytes in use, %.1f bytes an assignment", used, per)
	if per > 150 {
		t.Fatalf("%.1f bytes an assignment, want at most 150", per)
	}
}
