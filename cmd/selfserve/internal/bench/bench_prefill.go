package bench

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/selfserve/selfserve/services/kit/kv"

	commercev1 "github.com/selfserve/selfserve/gen/go/selfserve/commerce/v1"
	licensingv1 "github.com/selfserve/selfserve/gen/go/selfserve/licensing/v1"
	"github.com/selfserve/selfserve/services/commerce/catalog"
	cstore "github.com/selfserve/selfserve/services/commerce/store"
	"github.com/selfserve/selfserve/services/commerce/subscriptions"
	"github.com/selfserve/selfserve/services/kit/clock"
	"github.com/selfserve/selfserve/services/kit/names"
	"github.com/selfserve/selfserve/services/licensing"
	"github.com/selfserve/selfserve/services/licensing/directory"
	lstore "github.com/selfserve/selfserve/services/licensing/store"
)

// benchPrefillSpec is what the bench writes into the stores before the
// components start.
type benchPrefillSpec struct {
	// Subscriptions bought by the buyer (contoso/max), one license each,
	// each with its pool.
	Subscriptions int
	// Assignments in pools bought by another member (contoso/nora): pools of
	// benchPoolSize licenses, every one assigned, to as many users.
	Assignments int
}

// benchPrefillResult says what was written and how long it took.
type benchPrefillResult struct {
	System        string  `json:"system"`
	Subscriptions int     `json:"subscriptions"`
	Users         int     `json:"users"`
	Assignments   int     `json:"assignments"`
	Seconds       float64 `json:"seconds"`
	// LicensingInUse is the bytes of licensing.db's pages in use after the
	// prefill (kv.Bolt.InUse): users, pools, assignments and indexes.
	LicensingInUse int64 `json:"licensingInUse"`
}

const (
	benchOrg      = "contoso"
	benchBuyer    = "max" // a MEMBER without roles: self-service purchases
	benchOwner    = "nora"
	benchPoolSize = 10000 // the largest pool API.md allows
	benchTxSize   = 10000 // records per bbolt transaction
)

// benchPrefill writes spec into the licensing and commerce stores under dir
// (dir/licensing, dir/commerce) through their store packages, the way the
// services write a completed purchase and its assignments. Billing gets
// nothing: these subscriptions have no invoices, so `selfserve check` would
// report them; the bench never runs it.
func benchPrefill(dir string, spec benchPrefillSpec, now time.Time) (benchPrefillResult, error) {
	start := time.Now()
	res := benchPrefillResult{System: filepath.Base(dir), Subscriptions: spec.Subscriptions}
	product, unit, err := benchProduct()
	if err != nil {
		return res, err
	}
	pools := (spec.Assignments + benchPoolSize - 1) / benchPoolSize
	users := min(spec.Assignments, benchPoolSize)
	res.Users = users

	ls, err := lstore.Open(filepath.Join(dir, "licensing", "licensing.db"))
	if err != nil {
		return res, err
	}
	defer ls.Close()
	cs, err := cstore.Open(filepath.Join(dir, "commerce", "commerce.db"))
	if err != nil {
		return res, err
	}
	defer cs.Close()
	// The demo directory first, as the licensing service seeds it: an
	// organization that exists is never seeded again.
	if err := licensing.Seed(ls, clock.System{}); err != nil {
		return res, err
	}

	// Users, for the assignments.
	var members []*licensingv1.User
	for lo := 0; lo < users; lo += benchTxSize {
		err := ls.DB.Update(func(tx kv.Tx) error {
			for i := lo; i < min(lo+benchTxSize, users); i++ {
				id := fmt.Sprintf("fill-u%06d", i)
				u, err := directory.NormalizeUser(&licensingv1.User{DisplayName: fmt.Sprintf("Fill User %06d", i), Email: id + "@contoso.example",
					UserType: licensingv1.User_MEMBER, UsageLocation: "SE"})
				if err != nil {
					return err
				}
				if err := lstore.InsertUser(tx, benchOrg, id, u, now); err != nil {
					return err
				}
				members = append(members, u)
			}
			return nil
		})
		if err != nil {
			return res, fmt.Errorf("prefill users: %w", err)
		}
	}

	// The buyer's subscriptions, then the fully assigned ones.
	type sub struct {
		id, owner, ownerName string
		qty                  int32
	}
	var subs []sub
	for i := range spec.Subscriptions {
		subs = append(subs, sub{fmt.Sprintf("fill-s%07d", i), benchBuyer, "Max Holm", 1})
	}
	for i := range pools {
		subs = append(subs, sub{fmt.Sprintf("fill-a%04d", i), benchOwner, "Nora Dubois", benchPoolSize})
	}
	for lo := 0; lo < len(subs); lo += benchTxSize {
		batch := subs[lo:min(lo+benchTxSize, len(subs))]
		err := cs.DB.Update(func(tx kv.Tx) error {
			for _, s := range batch {
				if err := benchPutSubscription(tx, s.id, s.owner, s.ownerName, s.qty, product, unit, now); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return res, fmt.Errorf("prefill subscriptions: %w", err)
		}
		err = ls.DB.Update(func(tx kv.Tx) error {
			for _, s := range batch {
				p := &licensingv1.Pool{Name: names.Format(names.License, benchOrg, s.id), Subscription: names.Format(names.Subscription, benchOrg, s.id),
					Product: product.Name(), Purchaser: names.Format(names.User, benchOrg, s.owner), Channel: licensingv1.Pool_SELF_SERVICE,
					TotalLicenses: s.qty, State: licensingv1.License_ENABLED, SubscriptionVersion: 1}
				if err := lstore.PutPool(tx, benchOrg, s.id, p, now); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return res, fmt.Errorf("prefill pools: %w", err)
		}
	}

	// The other owner's pools filled a slice of users at a time, each slice
	// in every pool: both indexes (pool → user, user → pool) then grow at a
	// few places per transaction, as they would over time, instead of one
	// transaction rewriting pages all over the user index (whose freed
	// pages would leave a freelist no running store has).
	size := make([]int, pools)
	for i, left := 0, spec.Assignments; i < pools; i++ {
		size[i] = min(left, benchPoolSize)
		left -= size[i]
	}
	step := max(1, benchTxSize/max(1, pools))
	for lo := 0; lo < users; lo += step {
		err := ls.DB.Update(func(tx kv.Tx) error {
			for i := range pools {
				if lo >= size[i] {
					continue
				}
				id := fmt.Sprintf("fill-a%04d", i)
				p, err := lstore.GetPool(tx, benchOrg, id)
				if err != nil {
					return err
				}
				batch := members[lo:min(lo+step, size[i])]
				if err := lstore.Assign(tx, benchOrg, id, p, batch, now); err != nil {
					return err
				}
				res.Assignments += len(batch)
			}
			return nil
		})
		if err != nil {
			return res, fmt.Errorf("prefill assignments: %w", err)
		}
	}
	res.Seconds = time.Since(start).Seconds()
	if err := errors.Join(ls.DB.(*kv.Bolt).Sync(), cs.DB.(*kv.Bolt).Sync()); err != nil {
		return res, err
	}
	res.LicensingInUse, err = ls.DB.(*kv.Bolt).InUse()
	return res, err
}

// benchProduct is the product of the prefilled subscriptions: the first
// seeded one sold in the global cloud, monthly, in SEK (contoso is in Sweden),
// without a trial.
func benchProduct() (catalog.Product, int64, error) {
	for _, p := range catalog.Seed {
		if p.Trial != nil || p.TrialOnly || !slices.Contains(p.Clouds, licensingv1.Organization_GLOBAL) {
			continue
		}
		if unit, ok := p.Price(commercev1.Product_MONTHLY, "SEK"); ok {
			return p, unit, nil
		}
	}
	return catalog.Product{}, 0, errors.New("prefill: no seeded product sold monthly in SEK without a trial")
}

// benchPutSubscription writes a completed self-service purchase of qty
// licenses, with its order, as commerce does once the charge and the pool
// are done.
func benchPutSubscription(tx kv.Tx, id, owner, ownerName string, qty int32, product catalog.Product, unit int64, now time.Time) error {
	// What a purchase leaves once its steps are done, made by the same
	// constructor.
	s, m, o, err := subscriptions.Bought{Org: benchOrg, ID: id, Product: product, Purchaser: names.Format(names.User, benchOrg, owner),
		PurchaserDisplayName: ownerName, Channel: commercev1.Subscription_SELF_SERVICE, Quantity: qty,
		Frequency: commercev1.Product_MONTHLY, Currency: "SEK", Unit: unit}.New(now)
	if err != nil {
		return err
	}
	if _, err := cstore.AddOrder(tx, benchOrg, id, m, o); err != nil {
		return err
	}
	return cstore.PutSubscription(tx, benchOrg, id, owner, s, m)
}
