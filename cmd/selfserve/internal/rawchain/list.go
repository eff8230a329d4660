package rawchain

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	commercev1 "github.com/selfserve/selfserve/gen/go/selfserve/commerce/v1"
	licensingv1 "github.com/selfserve/selfserve/gen/go/selfserve/licensing/v1"
)

// The list's shape, with no logic:
//
//	HTTP → mux → front: a page of subscriptions read from its file
//	             → pools server: their pools read from its file
//	             front: each subscription's assigned count → JSON (the mux's protojson)
//
// ListOrg is the organization whose ListSize subscriptions Start writes,
// each with its pool, filled as a bought subscription is.
const (
	ListOrg  = "raw-list"
	ListSize = 1000
	maxPage  = 50
)

// fillList writes the list's subscriptions and pools, once.
func fillList(subs, pools *bolt.DB) error {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	parent := "organizations/" + ListOrg
	var subRecs, poolRecs [][2][]byte
	for i := range ListSize {
		name := fmt.Sprintf("%s/subscriptions/s%06d", parent, i)
		at := start.Add(time.Duration(i) * time.Minute)
		sub := &commercev1.Subscription{Name: name, Product: "products/raw", ProductDisplayName: "Raw Product Plan 1",
			Purchaser: parent + "/users/buyer", PurchaserDisplayName: "Buyer Person", Channel: commercev1.Subscription_SELF_SERVICE,
			State: commercev1.Subscription_ACTIVE, Quantity: 5, BillingFrequency: commercev1.Product_MONTHLY,
			UnitPrice: &commercev1.Money{CurrencyCode: "SEK", AmountMinor: 6900}, AutoRenew: true,
			StartTime: timestamppb.New(at), TermStartTime: timestamppb.New(at), EndTime: timestamppb.New(at.AddDate(0, 1, 0)),
			NextLifecycleTime: timestamppb.New(at.AddDate(0, 1, 0)), BillingProfile: "billingAccounts/raw/billingProfiles/raw"}
		pool := &licensingv1.Pool{Name: poolName(name), Subscription: name, Product: sub.Product, Purchaser: sub.Purchaser,
			Channel: licensingv1.Pool_SELF_SERVICE, TotalLicenses: 5, AssignedLicenses: int32(i % 6), State: licensingv1.License_ENABLED}
		s, err := proto.Marshal(sub)
		if err != nil {
			return err
		}
		p, err := proto.Marshal(pool)
		if err != nil {
			return err
		}
		subRecs = append(subRecs, [2][]byte{[]byte(name), s})
		poolRecs = append(poolRecs, [2][]byte{[]byte(pool.Name), p})
	}
	for _, f := range []struct {
		db   *bolt.DB
		recs [][2][]byte
	}{{subs, subRecs}, {pools, poolRecs}} {
		if err := f.db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucket)
			for _, r := range f.recs {
				if err := b.Put(r[0], r[1]); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return err
		}
	}
	return nil
}

// poolName is the pool of a subscription name: its licenses/ twin.
func poolName(sub string) string {
	return strings.Replace(sub, "/subscriptions/", "/licenses/", 1)
}

// ListSubscriptions reads a page of the parent's subscriptions after the
// page token (the last name of the page before), then their pools.
func (f *purchaseFront) ListSubscriptions(ctx context.Context, req *commercev1.ListSubscriptionsRequest) (*commercev1.ListSubscriptionsResponse, error) {
	size := int(req.GetPageSize())
	if size <= 0 || size > maxPage {
		size = maxPage
	}
	prefix := []byte(req.GetParent() + "/subscriptions/")
	resp := &commercev1.ListSubscriptionsResponse{}
	batch := &licensingv1.BatchGetPoolsRequest{}
	err := f.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucket).Cursor()
		k, v := c.Seek(prefix)
		if t := req.GetPageToken(); t != "" {
			if k, v = c.Seek([]byte(t)); k != nil && string(k) == t {
				k, v = c.Next()
			}
		}
		for ; k != nil && bytes.HasPrefix(k, prefix) && len(resp.Subscriptions) < size; k, v = c.Next() {
			sub := &commercev1.Subscription{}
			if err := proto.Unmarshal(v, sub); err != nil {
				return err
			}
			resp.Subscriptions = append(resp.Subscriptions, sub)
			batch.Names = append(batch.Names, poolName(sub.Name))
		}
		if k != nil && bytes.HasPrefix(k, prefix) && len(resp.Subscriptions) > 0 {
			resp.NextPageToken = resp.Subscriptions[len(resp.Subscriptions)-1].Name
		}
		return nil
	})
	if err != nil || len(batch.Names) == 0 {
		return resp, err
	}
	pools, err := f.pools.BatchGetPools(ctx, batch)
	if err != nil {
		return nil, err
	}
	assigned := make(map[string]int32, len(pools.GetPools()))
	for _, p := range pools.GetPools() {
		assigned[p.GetName()] = p.GetAssignedLicenses()
	}
	for i, sub := range resp.Subscriptions {
		sub.AssignedLicenses = assigned[batch.Names[i]]
	}
	return resp, nil
}

// BatchGetPools reads the pools of the names that have one.
func (p *poolServer) BatchGetPools(_ context.Context, req *licensingv1.BatchGetPoolsRequest) (*licensingv1.BatchGetPoolsResponse, error) {
	resp := &licensingv1.BatchGetPoolsResponse{}
	err := p.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		for _, n := range req.GetNames() {
			v := b.Get([]byte(n))
			if v == nil {
				continue
			}
			pool := &licensingv1.Pool{}
			if err := proto.Unmarshal(v, pool); err != nil {
				return err
			}
			resp.Pools = append(resp.Pools, pool)
		}
		return nil
	})
	return resp, err
}
