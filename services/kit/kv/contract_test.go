package kv

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"golang.org/x/text/language"
	"google.golang.org/grpc/codes"

	"github.com/selfserve/selfserve/services/kit/errs"
	"github.com/selfserve/selfserve/services/kit/kv/etcdembed"
)

// The contract every backend keeps, run on bbolt (a temp file) and on etcd
// (a member embedded in the test process, on loopback).

var (
	cluster  *etcdembed.Cluster
	etcdCli  *clientv3.Client
	prefixes atomic.Int64
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "kv-etcd-")
	if err != nil {
		panic(err)
	}
	cluster, err = etcdembed.StartCluster(dir, 1, true)
	if err != nil {
		panic(err)
	}
	etcdCli, err = DialEtcd(cluster.Endpoints(), 5*time.Second)
	if err != nil {
		panic(err)
	}
	code := m.Run()
	etcdCli.Close()
	cluster.Close()
	os.RemoveAll(dir)
	os.Exit(code)
}

// backend opens fresh stores of one kind; replica opens another handle on
// the same store (another process, on etcd).
type backend struct {
	name    string
	open    func(t *testing.T) DB
	replica func(t *testing.T, db DB) DB
}

func backends() []backend {
	return []backend{
		{
			name: "bbolt",
			open: func(t *testing.T) DB {
				db, err := OpenBolt(filepath.Join(t.TempDir(), "x.db"), things, others)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { db.Close() })
				return db
			},
			replica: func(t *testing.T, db DB) DB { return db },
		},
		{
			name: "etcd",
			open: func(t *testing.T) DB {
				db, err := OpenEtcd(etcdCli, fmt.Sprintf("/test/%d/", prefixes.Add(1)), things, others)
				if err != nil {
					t.Fatal(err)
				}
				return db
			},
			replica: func(t *testing.T, db DB) DB {
				r, err := OpenEtcd(etcdCli, db.(*Etcd).Prefix(), things, others)
				if err != nil {
					t.Fatal(err)
				}
				return r
			},
		},
	}
}

func eachBackend(t *testing.T, test func(t *testing.T, b backend)) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) { test(t, b) })
	}
}

var others = []byte("others")

func put(t *testing.T, db DB, bucket []byte, kvs ...string) {
	t.Helper()
	err := db.Update(func(tx Tx) error {
		for i := 0; i < len(kvs); i += 2 {
			if err := tx.Bucket(bucket).Put([]byte(kvs[i]), []byte(kvs[i+1])); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func walk(c Cursor, reverse bool) []string {
	var out []string
	k, v := c.First()
	if reverse {
		k, v = c.Last()
	}
	for ; k != nil; k, v = step(c, reverse) {
		out = append(out, string(k)+"="+string(v))
	}
	return out
}

func step(c Cursor, reverse bool) ([]byte, []byte) {
	if reverse {
		return c.Prev()
	}
	return c.Next()
}

func TestContractReadWrite(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		db := b.open(t)
		put(t, db, things, "a", "1", "empty", "")
		put(t, db, others, "a", "other")
		err := db.View(func(tx Tx) error {
			bk := tx.Bucket(things)
			if got := string(bk.Get([]byte("a"))); got != "1" {
				t.Errorf("a = %q", got)
			}
			if v := bk.Get([]byte("empty")); v == nil || len(v) != 0 {
				t.Errorf("an empty value reads %v, not a present empty value", v)
			}
			if v := bk.Get([]byte("missing")); v != nil {
				t.Errorf("a missing key reads %q", v)
			}
			if got := string(tx.Bucket(others).Get([]byte("a"))); got != "other" {
				t.Errorf("buckets are not apart: %q", got)
			}
			if tx.Writable() {
				t.Error("a view is writable")
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		// A failing fn writes nothing, even what it wrote before failing.
		refused := errors.New("refused")
		err = db.Update(func(tx Tx) error {
			tx.Bucket(things).Put([]byte("a"), []byte("2"))
			tx.Bucket(things).Delete([]byte("empty"))
			return refused
		})
		if !errors.Is(err, refused) {
			t.Fatalf("Update answered %v", err)
		}
		db.View(func(tx Tx) error {
			if got := string(tx.Bucket(things).Get([]byte("a"))); got != "1" {
				t.Errorf("a failed update left a = %q", got)
			}
			if tx.Bucket(things).Get([]byte("empty")) == nil {
				t.Error("a failed update deleted a key")
			}
			return nil
		})
		// A transaction reads its own writes.
		db.Update(func(tx Tx) error {
			bk := tx.Bucket(things)
			bk.Put([]byte("a"), []byte("3"))
			if got := string(bk.Get([]byte("a"))); got != "3" {
				t.Errorf("own write reads %q", got)
			}
			bk.Delete([]byte("a"))
			if v := bk.Get([]byte("a")); v != nil {
				t.Errorf("own delete reads %q", v)
			}
			return nil
		})
		db.View(func(tx Tx) error {
			if v := tx.Bucket(things).Get([]byte("a")); v != nil {
				t.Errorf("deleted a reads %q", v)
			}
			return nil
		})
	})
}

func TestContractCursor(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		db := b.open(t)
		// Enough keys for an etcd cursor to fetch several batches.
		var kvs, want []string
		for i := range 100 {
			k := fmt.Sprintf("k%03d", 2*i)
			kvs = append(kvs, k, fmt.Sprint(i))
			want = append(want, k+"="+fmt.Sprint(i))
		}
		put(t, db, things, kvs...)
		put(t, db, others, "k", "not in things")
		db.View(func(tx Tx) error {
			c := tx.Bucket(things).Cursor()
			if got := walk(c, false); !slices.Equal(got, want) {
				t.Errorf("forward: %v", got)
			}
			rev := slices.Clone(want)
			slices.Reverse(rev)
			if got := walk(c, true); !slices.Equal(got, rev) {
				t.Errorf("backward: %v", got)
			}
			if k, _ := c.Seek([]byte("k051")); string(k) != "k052" {
				t.Errorf("seek k051 → %q", k)
			}
			if k, _ := c.Prev(); string(k) != "k050" {
				t.Errorf("prev after seek → %q", k)
			}
			if k, _ := c.Next(); string(k) != "k052" {
				t.Errorf("next after prev → %q", k)
			}
			if k, _ := c.Seek([]byte("k198")); string(k) != "k198" {
				t.Errorf("seek last → %q", k)
			}
			if k, _ := c.Next(); k != nil {
				t.Errorf("next past the end → %q", k)
			}
			if k, _ := c.Seek([]byte("z")); k != nil {
				t.Errorf("seek past the end → %q", k)
			}
			n := 0
			tx.Bucket(things).ForEach(func(k, v []byte) error { n++; return nil })
			if n != 100 || Count(tx.Bucket(things)) != 100 {
				t.Errorf("ForEach %d, Count %d", n, Count(tx.Bucket(things)))
			}
			return nil
		})
		// A cursor sees the transaction's own puts and deletes.
		db.Update(func(tx Tx) error {
			bk := tx.Bucket(things)
			bk.Put([]byte("k001"), []byte("new"))
			bk.Delete([]byte("k000"))
			bk.Delete([]byte("k198"))
			bk.Put([]byte("k050"), []byte("changed"))
			bk.Put([]byte("zz"), []byte("last"))
			got := walk(bk.Cursor(), false)
			if got[0] != "k001=new" || got[1] != "k002=1" || !slices.Contains(got, "k050=changed") || got[len(got)-1] != "zz=last" || slices.Contains(got, "k198=99") || len(got) != 100 {
				t.Errorf("merged forward: %d keys, %v ... %v", len(got), got[:3], got[len(got)-3:])
			}
			back := walk(bk.Cursor(), true)
			slices.Reverse(back)
			if !slices.Equal(back, got) {
				t.Errorf("merged backward differs from forward")
			}
			if Count(bk) != 100 {
				t.Errorf("Count with own writes %d", Count(bk))
			}
			return nil
		})
	})
}

func TestContractPaging(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		db := b.open(t)
		var kvs []string
		for _, org := range []string{"a", "b", "c"} {
			for i := range 25 {
				kvs = append(kvs, string(Key(org, fmt.Sprintf("%02d", i))), org+fmt.Sprint(i))
			}
		}
		put(t, db, things, kvs...)
		for _, reverse := range []bool{false, true} {
			var all []string
			var cursor []byte
			for page := 0; ; page++ {
				var items []string
				err := db.View(func(tx Tx) error {
					var err error
					items, cursor, err = Page(tx.Bucket(things), Prefix("b"), cursor, 10, reverse, func(k, v []byte) (string, bool, error) {
						return string(v), true, nil
					})
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
				all = append(all, items...)
				if cursor == nil {
					break
				}
				if page > 5 {
					t.Fatal("paging does not end")
				}
			}
			if len(all) != 25 || (all[0] == "b0") == reverse || (all[24] == "b24") == reverse {
				t.Errorf("reverse=%v: %d items %v", reverse, len(all), all)
			}
		}
	})
}

func TestContractSequence(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		db := b.open(t)
		r := b.replica(t, db)
		seen := map[uint64]bool{}
		var last uint64
		for i := range 30 {
			s := db
			if i%2 == 1 {
				s = r
			}
			var n uint64
			err := s.Update(func(tx Tx) error {
				var err error
				n, err = tx.Bucket(things).NextSequence()
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if seen[n] || n == 0 {
				t.Fatalf("sequence %d handed out twice (or zero)", n)
			}
			seen[n] = true
			if s == db && n <= last {
				t.Fatalf("sequence went back: %d after %d", n, last)
			}
			if s == db {
				last = n
			}
		}
	})
}

// Read-modify-write from many writers at once, on two handles (replicas on
// etcd): no increment is lost.
func TestContractConcurrentIncrements(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		db := b.open(t)
		handles := []DB{db, b.replica(t, db)}
		const writers, each = 16, 10
		var wg sync.WaitGroup
		var failed atomic.Int64
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range each {
					err := Commit(handles[w%2], func(tx Tx) error {
						bk := tx.Bucket(things)
						n := 0
						fmt.Sscan(string(bk.Get([]byte("n"))), &n)
						return bk.Put([]byte("n"), []byte(fmt.Sprint(n+1)))
					})
					if err != nil {
						failed.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		db.View(func(tx Tx) error {
			if got := string(tx.Bucket(things).Get([]byte("n"))); got != fmt.Sprint(writers*each) || failed.Load() > 0 {
				t.Errorf("n = %s after %d increments, %d failed", got, writers*each, failed.Load())
			}
			return nil
		})
	})
}

// A writer that decides from a range it walked (count the seats taken, take
// one if fewer than 5) is not fooled by a rival's insert into that range.
func TestContractRangeGuard(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		db := b.open(t)
		handles := []DB{db, b.replica(t, db)}
		const callers, seats = 24, 5
		var wg sync.WaitGroup
		var took atomic.Int64
		for i := range callers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var got bool
				err := handles[i%2].Update(func(tx Tx) error {
					got = false
					bk := tx.Bucket(things)
					n := 0
					Scan(bk, Prefix("seat"), nil, func(k, v []byte) (bool, error) { n++; return true, nil })
					if n >= seats {
						return nil
					}
					got = true
					return bk.Put(Key("seat", fmt.Sprint(i)), nil)
				})
				if err != nil {
					t.Error(err)
				}
				if got {
					took.Add(1)
				}
			}()
		}
		wg.Wait()
		var n int
		db.View(func(tx Tx) error {
			return Scan(tx.Bucket(things), Prefix("seat"), nil, func(k, v []byte) (bool, error) { n++; return true, nil })
		})
		if n != seats || took.Load() != seats {
			t.Fatalf("%d seats stored, %d callers told they took one; want %d", n, took.Load(), seats)
		}
	})
}

// A point read that a rival deletes makes the writer run again.
func TestContractDeleteConflict(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		db := b.open(t)
		r := b.replica(t, db)
		put(t, db, things, "coupon", "1")
		runs := 0
		err := db.Update(func(tx Tx) error {
			runs++
			bk := tx.Bucket(things)
			if bk.Get([]byte("coupon")) == nil {
				return nil
			}
			if runs == 1 && b.name == "etcd" {
				// A rival spends the coupon between this read and the commit.
				if err := r.Update(func(tx Tx) error { return tx.Bucket(things).Delete([]byte("coupon")) }); err != nil {
					return err
				}
			}
			return bk.Put([]byte("spent-by"), []byte("first"))
		})
		if err != nil {
			t.Fatal(err)
		}
		db.View(func(tx Tx) error {
			spent := tx.Bucket(things).Get([]byte("spent-by"))
			if b.name == "etcd" && (spent != nil || runs != 2) {
				t.Errorf("a writer committed on a coupon deleted under it (runs %d)", runs)
			}
			return nil
		})
	})
}

// An etcd store that does not answer fails as UNAVAILABLE within its
// timeout, and a transaction cut off writes nothing.
func TestEtcdUnreachable(t *testing.T) {
	start := time.Now()
	_, err := DialEtcd([]string{"127.0.0.1:1"}, time.Second)
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("127.0.0.1:1")) {
		t.Fatalf("dial of a dead endpoint: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("dial took %s with a 1 s timeout", d)
	}

	// A second cluster of our own, to stop and start again.
	dir := t.TempDir()
	c, err := etcdembed.StartCluster(dir, 1, true)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cli, err := DialEtcd(c.Endpoints(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	db, _ := OpenEtcd(cli, "/svc/", things)
	db.OpTimeout = time.Second
	put(t, db, things, "a", "1")
	c.Stop(0)
	start = time.Now()
	err = db.Update(func(tx Tx) error {
		tx.Bucket(things).Put([]byte("b"), []byte("2"))
		if tx.Bucket(things).Get([]byte("a")) == nil {
			return errors.New("must not be seen: the read failed, not the key")
		}
		return nil
	})
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("update with etcd down: %v", err)
	}
	if st := errs.Status(err, "kv.selfserve", language.English); st.Code() != codes.Unavailable || errs.ReasonOf(st.Err()) != errs.Unavailable.Name {
		t.Fatalf("leaves a service as %s %s, want UNAVAILABLE SERVICE_UNAVAILABLE", st.Code(), errs.ReasonOf(st.Err()))
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Fatalf("update took %s to fail", d)
	}
	e, err := c.Members[0].Start(20 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.Etcds[0] = e
	// Back without a restart of the client: the same store serves again.
	deadline := time.Now().Add(15 * time.Second)
	var a, b []byte
	for {
		err = db.View(func(tx Tx) error {
			a, b = tx.Bucket(things).Get([]byte("a")), tx.Bucket(things).Get([]byte("b"))
			return nil
		})
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("store did not come back: %v", err)
	}
	if string(a) != "1" || b != nil {
		t.Fatalf("after the outage a = %q (want 1), b = %q (the cut-off write, want none)", a, b)
	}
}

// Prefetched keys read as Gets read them: present, empty, missing, and
// the transaction's own writes.
func TestContractPrefetch(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		db := b.open(t)
		var kvs []string
		for i := range 150 {
			kvs = append(kvs, fmt.Sprintf("p%03d", i), fmt.Sprint(i))
		}
		put(t, db, things, append(kvs, "empty", "")...)
		err := db.Update(func(tx Tx) error {
			bk := tx.Bucket(things)
			bk.Put([]byte("p007"), []byte("mine"))
			var refs []Ref
			for i := range 160 {
				refs = append(refs, Ref{things, []byte(fmt.Sprintf("p%03d", i))})
			}
			Prefetch(tx, append(refs, Ref{things, []byte("empty")}, Ref{others, []byte("p001")})...)
			for i := range 160 {
				got := bk.Get([]byte(fmt.Sprintf("p%03d", i)))
				want := fmt.Sprint(i)
				switch {
				case i == 7:
					want = "mine"
				case i >= 150:
					if got != nil {
						t.Errorf("p%03d: %q, want missing", i, got)
					}
					continue
				}
				if string(got) != want {
					t.Errorf("p%03d: %q, want %q", i, got, want)
				}
			}
			if v := bk.Get([]byte("empty")); v == nil || len(v) != 0 {
				t.Errorf("empty: %v", v)
			}
			if v := tx.Bucket(others).Get([]byte("p001")); v != nil {
				t.Errorf("other bucket: %q", v)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}
