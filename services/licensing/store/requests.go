package store

import (
	"encoding/binary"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	licensingv1 "github.com/selfserve/selfserve/gen/go/selfserve/licensing/v1"
	"github.com/selfserve/selfserve/services/kit/errs"
	"github.com/selfserve/selfserve/services/kit/kv"
	"github.com/selfserve/selfserve/services/kit/names"
	"github.com/selfserve/selfserve/services/licensing/requests"
)

func timeKey(t time.Time, org, id string) []byte {
	k := kv.Uint64(uint64(t.UnixNano()))
	return append(k, kv.Key(org, id)...)
}

// InsertRequest stores a new license request of org, giving it the next id.
func InsertRequest(tx kv.Tx, org string, r *licensingv1.LicenseRequest, now time.Time) error {
	b := tx.Bucket(licenseRequests)
	n, err := b.NextSequence()
	if err != nil {
		return err
	}
	id := requests.ID(n)
	r.Name = names.Format(requests.Pattern, org, id)
	r.CreateTime = timestamppb.New(now)
	if err := kv.Put(b, kv.Key(org, id), r); err != nil {
		return err
	}
	if err := tx.Bucket(requestOwners).Put(kv.Key(org, userID(r.GetRequester()), id), nil); err != nil {
		return err
	}
	return tx.Bucket(requestsByTime).Put(timeKey(now, org, id), nil)
}

// GetRequest reads a license request; NOT_FOUND when absent.
func GetRequest(tx kv.Tx, org, id string) (*licensingv1.LicenseRequest, error) {
	r := &licensingv1.LicenseRequest{}
	ok, err := kv.Get(tx.Bucket(licenseRequests), kv.Key(org, id), r)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errs.NotFound(names.Format(requests.Pattern, org, id))
	}
	return r, nil
}

// PutRequest writes a decided request back.
func PutRequest(tx kv.Tx, org, id string, r *licensingv1.LicenseRequest) error {
	return kv.Put(tx.Bucket(licenseRequests), kv.Key(org, id), r)
}

// ListRequests lists an organization's requests newest first, before the
// cursor.
func ListRequests(tx kv.Tx, org string, before []byte, size int) ([]*licensingv1.LicenseRequest, []byte, error) {
	return kv.Page(tx.Bucket(licenseRequests), kv.Prefix(org), before, size, true, func(_, v []byte) (*licensingv1.LicenseRequest, bool, error) {
		r := &licensingv1.LicenseRequest{}
		return r, true, proto.Unmarshal(v, r)
	})
}

// ListOwnRequests lists a requester's requests newest first, before the cursor.
func ListOwnRequests(tx kv.Tx, org, requester string, before []byte, size int) ([]*licensingv1.LicenseRequest, []byte, error) {
	return kv.Page(tx.Bucket(requestOwners), kv.Prefix(org, requester), before, size, true, func(k, _ []byte) (*licensingv1.LicenseRequest, bool, error) {
		r, err := GetRequest(tx, org, kv.Split(k)[2])
		return r, true, err
	})
}

// PurgeRequests deletes up to limit requests made before cutoff, oldest
// first, and reports how many it deleted.
func PurgeRequests(tx kv.Tx, cutoff time.Time, limit int) (int, error) {
	byTime := tx.Bucket(requestsByTime)
	c := byTime.Cursor()
	n := 0
	for k, _ := c.First(); k != nil && n < limit; k, _ = c.First() {
		if int64(binary.BigEndian.Uint64(k[:8])) >= cutoff.UnixNano() {
			break
		}
		parts := kv.Split(k[8:])
		org, id := parts[0], parts[1]
		if r, err := GetRequest(tx, org, id); err == nil {
			if err := tx.Bucket(requestOwners).Delete(kv.Key(org, userID(r.GetRequester()), id)); err != nil {
				return n, err
			}
		}
		if err := tx.Bucket(licenseRequests).Delete(kv.Key(org, id)); err != nil {
			return n, err
		}
		if err := byTime.Delete(k); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
