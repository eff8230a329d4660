package kv

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestCompactWhileServing: a store that grew and shrank gives its space
// back; every key written before and during the compaction is there after
// it, readers never fail, and writes made while it copied wait and land in
// the new file.
func TestCompactWhileServing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	db, err := Open(path, things)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { db.Close() }()
	value := make([]byte, 200)
	for lo := 0; lo < 20000; lo += 2000 {
		if err := db.Update(func(tx Tx) error {
			for i := lo; i < lo+2000; i++ {
				if err := tx.Bucket(things).Put([]byte(fmt.Sprintf("k%06d", i)), value); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	// Keep one key in ten: the file keeps the pages the rest freed.
	if err := db.Update(func(tx Tx) error {
		for i := 0; i < 20000; i++ {
			if i%10 != 0 {
				if err := tx.Bucket(things).Delete([]byte(fmt.Sprintf("k%06d", i))); err != nil {
					return err
				}
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var written, readErrs atomic.Int64
	wg.Add(2)
	go func() { // a writer, through the group commit
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := Commit(db, func(tx Tx) error { return tx.Bucket(things).Put([]byte(fmt.Sprintf("w%06d", i)), []byte("x")) }); err != nil {
				t.Errorf("write %d: %v", i, err)
				return
			}
			written.Add(1)
		}
	}()
	go func() { // a reader
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := db.View(func(tx Tx) error {
				if tx.Bucket(things).Get([]byte("k000010")) == nil {
					return fmt.Errorf("k000010 missing")
				}
				return nil
			}); err != nil {
				readErrs.Add(1)
			}
		}
	}()
	// What compact would give back shows before it runs: the pages in use
	// are a fraction of the file.
	inUse, err := db.InUse()
	if fi, serr := os.Stat(path); err != nil || serr != nil || inUse <= 0 || inUse >= fi.Size()/2 {
		t.Fatalf("InUse = %d (%v) of a %v-byte file (%v), want under half", inUse, err, fi.Size(), serr)
	}
	time.Sleep(50 * time.Millisecond)
	res, err := db.Compact()
	time.Sleep(50 * time.Millisecond)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if readErrs.Load() > 0 {
		t.Fatalf("%d reads failed", readErrs.Load())
	}
	t.Logf("compacted %d → %d bytes, writes paused %s, %d writes meanwhile", res.Before, res.After, res.Paused, written.Load())
	if res.After >= res.Before/2 {
		t.Fatalf("compaction left %d of %d bytes", res.After, res.Before)
	}
	if _, err := os.Stat(path + ".compact"); !os.IsNotExist(err) {
		t.Fatalf("the temporary file is left: %v", err)
	}
	// Everything is there, in a store opened afresh from the file.
	db.Close()
	if db, err = Open(path, things); err != nil {
		t.Fatal(err)
	}
	err = db.View(func(tx Tx) error {
		b := tx.Bucket(things)
		for i := 0; i < 20000; i += 10 {
			if b.Get([]byte(fmt.Sprintf("k%06d", i))) == nil {
				return fmt.Errorf("k%06d lost", i)
			}
		}
		for i := int64(0); i < written.Load(); i++ {
			if b.Get([]byte(fmt.Sprintf("w%06d", i))) == nil {
				return fmt.Errorf("write w%06d, answered, lost", i)
			}
		}
		if n := Count(b); n != 2000+int(written.Load()) {
			return fmt.Errorf("%d keys, want %d", n, 2000+written.Load())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
