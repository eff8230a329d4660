package kv

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/wrapperspb"
)

var things = []byte("things")

func open(t *testing.T) DB {
	t.Helper()
	db, err := Open(filepath.Join(t.TempDir(), "x.db"), things)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestScanFromCursor(t *testing.T) {
	db := open(t)
	err := db.Update(func(tx Tx) error {
		b := tx.Bucket(things)
		for _, org := range []string{"a", "b", "c"} {
			for i := range 5 {
				if err := Put(b, Key(org, fmt.Sprint(i)), wrapperspb.String(org+fmt.Sprint(i))); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	collect := func(reverse bool, from []byte) (out []string) {
		db.View(func(tx Tx) error {
			fn := func(k, v []byte) (bool, error) {
				var s wrapperspb.StringValue
				if ok, err := Get(tx.Bucket(things), k, &s); !ok || err != nil {
					t.Fatal("get", err)
				}
				out = append(out, s.Value)
				return len(out) < 3, nil
			}
			if reverse {
				return ScanReverse(tx.Bucket(things), Prefix("b"), from, fn)
			}
			return Scan(tx.Bucket(things), Prefix("b"), from, fn)
		})
		return out
	}
	if got := fmt.Sprint(collect(false, nil)); got != "[b0 b1 b2]" {
		t.Fatalf("scan: %s", got)
	}
	if got := fmt.Sprint(collect(false, Key("b", "2"))); got != "[b3 b4]" {
		t.Fatalf("scan after b2: %s", got)
	}
	if got := fmt.Sprint(collect(true, nil)); got != "[b4 b3 b2]" {
		t.Fatalf("reverse: %s", got)
	}
	if got := fmt.Sprint(collect(true, Key("b", "2"))); got != "[b1 b0]" {
		t.Fatalf("reverse before b2: %s", got)
	}
}

func TestClockPersists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2027, 3, 4, 5, 6, 7, 8, time.UTC)
	if err := SaveClock(db, at); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got, err := LoadClock(db)
	if err != nil || !got.Equal(at) {
		t.Fatalf("clock %v %v", got, err)
	}
}

func TestPage(t *testing.T) {
	db := open(t)
	db.Update(func(tx Tx) error {
		for i := range 7 {
			tx.Bucket(things).Put(Key("o", fmt.Sprint(i)), []byte{byte(i)})
		}
		return nil
	})
	even := func(_, v []byte) (int, bool, error) { return int(v[0]), v[0]%2 == 0, nil }
	db.View(func(tx Tx) error {
		b := tx.Bucket(things)
		items, next, err := Page(b, Prefix("o"), nil, 2, false, even)
		if err != nil || fmt.Sprint(items) != "[0 2]" || next == nil {
			t.Fatalf("page 1: %v %q %v", items, next, err)
		}
		items, next, _ = Page(b, Prefix("o"), next, 2, false, even)
		if fmt.Sprint(items) != "[4 6]" || next != nil {
			t.Fatalf("page 2 is the last: %v %q", items, next)
		}
		items, next, _ = Page(b, Prefix("o"), nil, 3, true, even)
		if fmt.Sprint(items) != "[6 4 2]" || next == nil {
			t.Fatalf("reverse: %v %q", items, next)
		}
		return nil
	})
}
