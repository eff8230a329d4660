package store

import (
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	commercev1 "github.com/selfserve/selfserve/gen/go/selfserve/commerce/v1"
	licensingv1 "github.com/selfserve/selfserve/gen/go/selfserve/licensing/v1"
	"github.com/selfserve/selfserve/services/kit/errs"
	"github.com/selfserve/selfserve/services/kit/kv"
	"github.com/selfserve/selfserve/services/kit/names"
	"github.com/selfserve/selfserve/services/kit/outbox"
	"github.com/selfserve/selfserve/services/licensing/seats"
)

// userID is the id part of organizations/{org}/users/{user}.
func userID(name string) string {
	var org, id string
	names.Scan(name, seats.UserPattern, &org, &id)
	return id
}

// GetPool reads the pool of a subscription; NOT_FOUND when absent.
func GetPool(tx kv.Tx, org, sub string) (*licensingv1.Pool, error) {
	p := &licensingv1.Pool{}
	ok, err := kv.Get(tx.Bucket(poolsBucket), kv.Key(org, sub), p)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errs.NotFound(names.Format(seats.PoolPattern, org, sub))
	}
	named(org, sub, p)
	return p, nil
}

// PutPool writes a pool and its owner index entry. The pool's own name and
// its subscription's are the ones its key gives: they are not stored (95
// bytes of a pool's 240 in the bench's large store), named puts them back.
func PutPool(tx kv.Tx, org, sub string, p *licensingv1.Pool, now time.Time) error {
	p.UpdateTime = timestamppb.New(now)
	if p.CreateTime == nil {
		p.CreateTime = p.UpdateTime
	}
	name, subName := p.Name, p.Subscription
	if name == names.Format(seats.PoolPattern, org, sub) {
		p.Name = ""
	}
	if subName == names.Format(seats.SubscriptionPattern, org, sub) {
		p.Subscription = ""
	}
	err := kv.Put(tx.Bucket(poolsBucket), kv.Key(org, sub), p)
	p.Name, p.Subscription = name, subName
	if err != nil {
		return err
	}
	return tx.Bucket(poolOwners).Put(kv.Key(org, userID(p.GetPurchaser()), sub), nil)
}

// named gives a pool read from the pools bucket the names PutPool left out
// (a pool written before keeps its own).
func named(org, sub string, p *licensingv1.Pool) {
	if p.Name == "" {
		p.Name = names.Format(seats.PoolPattern, org, sub)
	}
	if p.Subscription == "" {
		p.Subscription = names.Format(seats.SubscriptionPattern, org, sub)
	}
}

// Assigned tells whether a user holds a license of a pool.
func Assigned(tx kv.Tx, org, sub, user string) bool {
	return tx.Bucket(assignmentsBucket).Get(kv.Key(org, sub, user)) != nil
}

// Assign gives users a license of the pool; the caller checked room, state
// and that none holds one yet.
func Assign(tx kv.Tx, org, sub string, p *licensingv1.Pool, users []*licensingv1.User, now time.Time) error {
	as, ua := tx.Bucket(assignmentsBucket), tx.Bucket(userAssignments)
	for _, u := range users {
		id := userID(u.GetName())
		// Only the time is stored: the key names the user and the pool, the
		// pool its product, the user's record their display name
		// (fillAssignments reads them back).
		a := &licensingv1.Assignment{AssignTime: timestamppb.New(now)}
		if err := kv.Put(as, kv.Key(org, sub, id), a); err != nil {
			return err
		}
		if err := ua.Put(kv.Key(org, id, sub), nil); err != nil {
			return err
		}
	}
	p.AssignedLicenses += int32(len(users))
	return PutPool(tx, org, sub, p, now)
}

// Unassign takes the licenses of users back; users without one are skipped.
// It returns the user ids whose license was removed.
func Unassign(tx kv.Tx, org, sub string, p *licensingv1.Pool, users []string, now time.Time) ([]string, error) {
	as, ua := tx.Bucket(assignmentsBucket), tx.Bucket(userAssignments)
	var removed []string
	for _, id := range users {
		if as.Get(kv.Key(org, sub, id)) == nil {
			continue
		}
		if err := as.Delete(kv.Key(org, sub, id)); err != nil {
			return nil, err
		}
		if err := ua.Delete(kv.Key(org, id, sub)); err != nil {
			return nil, err
		}
		removed = append(removed, id)
	}
	if len(removed) > 0 {
		p.AssignedLicenses -= int32(len(removed))
		if err := PutPool(tx, org, sub, p, now); err != nil {
			return nil, err
		}
	}
	return removed, nil
}

// AssignedUsers lists every user id holding a license of a pool.
func AssignedUsers(tx kv.Tx, org, sub string) ([]string, error) {
	var ids []string
	err := kv.Scan(tx.Bucket(assignmentsBucket), kv.Prefix(org, sub), nil, func(k, _ []byte) (bool, error) {
		parts := kv.Split(k)
		ids = append(ids, parts[len(parts)-1])
		return true, nil
	})
	return ids, err
}

// ListPools lists the pools of org in subscription order, those keep accepts.
func ListPools(tx kv.Tx, org string, after []byte, size int, keep func(*licensingv1.Pool) bool) ([]*licensingv1.Pool, []byte, error) {
	return kv.Page(tx.Bucket(poolsBucket), kv.Prefix(org), after, size, false, func(k, v []byte) (*licensingv1.Pool, bool, error) {
		p := &licensingv1.Pool{}
		if err := proto.Unmarshal(v, p); err != nil {
			return nil, false, err
		}
		ks := kv.Split(k)
		named(ks[0], ks[1], p)
		return p, keep(p), nil
	})
}

// ListOwnPools lists the pools a purchaser bought, through the owner index.
func ListOwnPools(tx kv.Tx, org, purchaser string, after []byte, size int) ([]*licensingv1.Pool, []byte, error) {
	return kv.Page(tx.Bucket(poolOwners), kv.Prefix(org, purchaser), after, size, false, func(k, _ []byte) (*licensingv1.Pool, bool, error) {
		parts := kv.Split(k)
		p, err := GetPool(tx, org, parts[2])
		return p, err == nil, err
	})
}

// ListPoolAssignments lists the assignments of pool p (org's sub, read by
// the caller) in user order.
func ListPoolAssignments(tx kv.Tx, org, sub string, p *licensingv1.Pool, after []byte, size int) ([]*licensingv1.Assignment, []byte, error) {
	var users []string
	out, next, err := kv.Page(tx.Bucket(assignmentsBucket), kv.Prefix(org, sub), after, size, false, func(k, v []byte) (*licensingv1.Assignment, bool, error) {
		a := &licensingv1.Assignment{}
		if err := proto.Unmarshal(v, a); err != nil {
			return nil, false, err
		}
		parts := kv.Split(k)
		users = append(users, parts[len(parts)-1])
		return a, true, nil
	})
	if err != nil {
		return nil, nil, err
	}
	pools := make([]*licensingv1.Pool, len(out))
	for i := range pools {
		pools[i] = p
	}
	fillAssignments(tx, org, out, users, pools)
	return out, next, nil
}

// ListUserAssignments lists a user's assignments in subscription order.
func ListUserAssignments(tx kv.Tx, org, user string, after []byte, size int) ([]*licensingv1.Assignment, []byte, error) {
	keys, next, err := kv.Page(tx.Bucket(userAssignments), kv.Prefix(org, user), after, size, false, func(k, _ []byte) (string, bool, error) {
		parts := kv.Split(k)
		return parts[2], true, nil
	})
	if err != nil {
		return nil, nil, err
	}
	if kv.Prefetches(tx) {
		refs := make([]kv.Ref, 0, 2*len(keys))
		for _, sub := range keys {
			refs = append(refs, kv.Ref{Bucket: assignmentsBucket, Key: kv.Key(org, sub, user)}, kv.Ref{Bucket: poolsBucket, Key: kv.Key(org, sub)})
		}
		kv.Prefetch(tx, refs...)
	}
	var out []*licensingv1.Assignment
	var users []string
	var pools []*licensingv1.Pool
	for _, sub := range keys {
		a := &licensingv1.Assignment{}
		ok, err := kv.Get(tx.Bucket(assignmentsBucket), kv.Key(org, sub, user), a)
		if err != nil {
			return nil, nil, err
		}
		p, perr := GetPool(tx, org, sub)
		if !ok || perr != nil {
			continue
		}
		out, users, pools = append(out, a), append(users, user), append(pools, p)
	}
	fillAssignments(tx, org, out, users, pools)
	return out, next, nil
}

// fillAssignments completes stored assignments with what is not stored in
// them: the user's name and current display name, the pool's name and
// product. Assignments stored whole (before only the time was) keep their
// recorded display name when the user's record is gone.
func fillAssignments(tx kv.Tx, org string, as []*licensingv1.Assignment, users []string, pools []*licensingv1.Pool) {
	if kv.Prefetches(tx) {
		refs := make([]kv.Ref, len(users))
		for i, u := range users {
			refs[i] = kv.Ref{Bucket: usersBucket, Key: kv.Key(org, u)}
		}
		kv.Prefetch(tx, refs...)
	}
	for i, a := range as {
		a.User = names.Format(names.User, org, users[i])
		if u, err := GetUser(tx, org, users[i]); err == nil {
			a.UserDisplayName = u.GetDisplayName()
		}
		a.License, a.Product = pools[i].GetName(), pools[i].GetProduct()
	}
}

// AddEvent puts an audit event in the outbox, in the transaction of the change.
func AddEvent(tx kv.Tx, e *commercev1.Event) error {
	v, err := proto.Marshal(e)
	if err != nil {
		return err
	}
	return outbox.Add(tx, eventsBucket, v)
}

// PrefetchChange reads at once (on etcd: one round trip) what an assign or
// unassign of users on a pool reads one key at a time: the pool, each
// user, their assignment and its index entry, and the acting user.
func PrefetchChange(tx kv.Tx, org, sub string, userIDs []string, actorOrg, actorID string) {
	if !kv.Prefetches(tx) {
		return
	}
	refs := []kv.Ref{{Bucket: poolsBucket, Key: kv.Key(org, sub)}}
	for _, u := range userIDs {
		refs = append(refs, kv.Ref{Bucket: usersBucket, Key: kv.Key(org, u)}, kv.Ref{Bucket: assignmentsBucket, Key: kv.Key(org, sub, u)},
			kv.Ref{Bucket: userAssignments, Key: kv.Key(org, u, sub)})
	}
	if actorID != "" {
		refs = append(refs, kv.Ref{Bucket: usersBucket, Key: kv.Key(actorOrg, actorID)})
	}
	kv.Prefetch(tx, refs...)
}
