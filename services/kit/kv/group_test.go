package kv

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
)

func TestCommitGroupsAndIsolatesFailures(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "g.db"), things)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var wg sync.WaitGroup
	errs := make([]error, 200)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = Commit(db, func(tx Tx) error {
				if err := tx.Bucket(things).Put([]byte(fmt.Sprintf("k%03d", i)), []byte("v")); err != nil {
					return err
				}
				if i%10 == 0 {
					return errors.New("refused")
				}
				return nil
			})
		}()
	}
	wg.Wait()
	n := 0
	db.View(func(tx Tx) error {
		n = Count(tx.Bucket(things))
		return nil
	})
	for i, err := range errs {
		if (i%10 == 0) != (err != nil) {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if n != 180 {
		t.Fatalf("%d keys: a failed call left writes or a good one was lost", n)
	}
}
