package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	commercev1 "github.com/selfserve/selfserve/gen/go/selfserve/commerce/v1"
	"github.com/selfserve/selfserve/services/commerce/audit"
	"github.com/selfserve/selfserve/services/kit/errs"
	"github.com/selfserve/selfserve/services/kit/kv"
	"github.com/selfserve/selfserve/services/kit/names"
)

// eventKey is an event's key in Events: its organization, its business time
// and its id, so that an organization's events sort by time.
func eventKey(org string, e *commercev1.Event, id string) []byte {
	k := kv.Prefix(org)
	k = append(k, kv.Uint64(uint64(e.GetCreateTime().AsTime().UnixNano()))...)
	k = append(k, 0)
	return append(k, id...)
}

// InsertEvent records an event inside tx, unless an event of the same name
// was recorded before; it tells whether the event is new. The event is checked
// with audit.Normalize and stored without its description, and marked for
// the organization's webhooks (see FanOut). Commerce features
// call it in the transaction of the change the event tells of.
func InsertEvent(tx kv.Tx, e *commercev1.Event) (bool, error) {
	e, err := audit.Normalize("event", e)
	if err != nil {
		return false, err
	}
	index := tx.Bucket(eventNames)
	if index.Get([]byte(e.GetName())) != nil {
		return false, nil
	}
	var org, id string
	names.Scan(e.GetName(), audit.EventPattern, &org, &id) // the caller checked the name
	key := eventKey(org, e, id)
	// Not the deterministic encoding kv.Put makes: sorting the metadata's
	// keys costs more than the rest of the event, and nothing compares the
	// bytes of an event.
	v, err := proto.Marshal(e)
	if err != nil {
		return false, err
	}
	if err := tx.Bucket(eventsBucket).Put(key, v); err != nil {
		return false, err
	}
	if err := markForWebhooks(tx, key); err != nil {
		return false, err
	}
	return true, index.Put([]byte(e.GetName()), key)
}

// NewEventName names a new event of org that commerce itself records, with a
// sequence id unique in this store ("commerce-000000000000002a").
func NewEventName(tx kv.Tx, org string) (string, error) {
	seq, err := tx.Bucket(eventsBucket).NextSequence()
	if err != nil {
		return "", err
	}
	return names.Format(audit.EventPattern, org, fmt.Sprintf("commerce-%016x", seq)), nil
}

// ListEvents returns up to size events of org, newest first by business time,
// from before the cursor (the key of the last event served; nil for the
// first page), and the cursor of the next page (nil when no more exist).
func ListEvents(tx kv.Tx, org string, before []byte, size int) ([]*commercev1.Event, []byte, error) {
	prefix := kv.Prefix(org)
	if before != nil && !bytes.HasPrefix(before, prefix) {
		return nil, nil, errs.New(errs.InvalidPageToken, "page_token is not valid for this request").With("field", "page_token")
	}
	var out []*commercev1.Event
	var next, last []byte
	err := kv.ScanReverse(tx.Bucket(eventsBucket), prefix, before, func(k, v []byte) (bool, error) {
		if len(out) == size {
			next = last
			return false, nil
		}
		e := &commercev1.Event{}
		if _, err := kv.Get(tx.Bucket(eventsBucket), k, e); err != nil {
			return false, err
		}
		out = append(out, e)
		last = bytes.Clone(k)
		return true, nil
	})
	return out, next, err
}

// PurgeEvents removes up to limit events of any organization recorded (by
// business time) before cutoff, with their name index entries, and answers
// how many it removed. It reads only the old end of each organization's
// events: a few keys a call when nothing is due.
func PurgeEvents(tx kv.Tx, cutoff time.Time, limit int) (int, error) {
	type old struct {
		key  []byte
		name string
	}
	var due []old
	c := tx.Bucket(eventsBucket).Cursor()
	for k, _ := c.First(); k != nil && len(due) < limit; {
		sep := bytes.IndexByte(k, 0)
		if sep < 0 || len(k) < sep+1+8+1 {
			k, _ = c.Next() // not an event's key
			continue
		}
		org := k[:sep]
		at := int64(binary.BigEndian.Uint64(k[sep+1 : sep+9]))
		if at >= cutoff.UnixNano() {
			// The rest of this organization's events are newer: on to the
			// next organization ("org\x01" sorts after every "org\x00…").
			k, _ = c.Seek(append(bytes.Clone(org), 1))
			continue
		}
		due = append(due, old{key: bytes.Clone(k), name: names.Format(audit.EventPattern, string(org), string(k[sep+10:]))})
		k, _ = c.Next()
	}
	events, index, fanout := tx.Bucket(eventsBucket), tx.Bucket(eventNames), tx.Bucket(webhookFanout)
	for _, e := range due {
		if err := events.Delete(e.key); err != nil {
			return 0, err
		}
		if err := index.Delete([]byte(e.name)); err != nil {
			return 0, err
		}
		if err := fanout.Delete(e.key); err != nil {
			return 0, err
		}
	}
	return len(due), nil
}
