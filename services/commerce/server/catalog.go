package server

import (
	"context"
	"errors"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	commercev1 "github.com/selfserve/selfserve/gen/go/selfserve/commerce/v1"
	"github.com/selfserve/selfserve/services/commerce/audit"
	"github.com/selfserve/selfserve/services/commerce/catalog"
	"github.com/selfserve/selfserve/services/commerce/store"
	"github.com/selfserve/selfserve/services/kit/auth"
	"github.com/selfserve/selfserve/services/kit/clock"
	"github.com/selfserve/selfserve/services/kit/errs"
	"github.com/selfserve/selfserve/services/kit/idem"
	"github.com/selfserve/selfserve/services/kit/kv"
	"github.com/selfserve/selfserve/services/kit/locale"
	"github.com/selfserve/selfserve/services/kit/masks"
	"github.com/selfserve/selfserve/services/kit/names"
	"github.com/selfserve/selfserve/services/kit/page"
)

// Catalog implements CatalogService: the products on sale, and each
// organization's self-service policies.
type Catalog struct {
	commercev1.UnimplementedCatalogServiceServer
	Store *store.Store
	Clock clock.Clock
}

// catalogPrincipal scopes request ids to their caller.
func catalogPrincipal(id *auth.Identity) string { return id.Org + "/" + id.Subject }

// ListProducts lists the catalog in id order, in the caller's language.
// Anyone signed in: the interceptor has verified the token.
func (c *Catalog) ListProducts(ctx context.Context, req *commercev1.ListProductsRequest) (*commercev1.ListProductsResponse, error) {
	pg, err := page.Open(req.GetPageSize(), req.GetPageToken(), "ListProducts")
	if err != nil {
		return nil, err
	}
	lang := locale.FromContext(ctx)
	resp := &commercev1.ListProductsResponse{}
	err = c.Store.DB.View(func(tx kv.Tx) error {
		products, next, err := store.ListProducts(tx, pg.After, pg.Size)
		for _, p := range products {
			resp.Products = append(resp.Products, p.Proto(lang))
		}
		resp.NextPageToken = pg.Next(next)
		return err
	})
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// GetProduct returns a product in the caller's language. Anyone signed in.
func (c *Catalog) GetProduct(ctx context.Context, req *commercev1.GetProductRequest) (*commercev1.Product, error) {
	var product string
	err := names.ParseInto("name", req.GetName(), catalog.ProductPattern, &product)
	if err != nil {
		return nil, err
	}
	var p catalog.Product
	err = c.Store.DB.View(func(tx kv.Tx) (err error) {
		p, err = store.GetProduct(tx, product)
		return err
	})
	if err != nil {
		return nil, err
	}
	return p.Proto(locale.FromContext(ctx)), nil
}

// ListProductPolicies lists every product with its effective policy in the
// organization, in product id order. The organization's members.
func (c *Catalog) ListProductPolicies(ctx context.Context, req *commercev1.ListProductPoliciesRequest) (*commercev1.ListProductPoliciesResponse, error) {
	var org string
	err := names.ParseInto("parent", req.GetParent(), catalog.OrganizationPattern, &org)
	if err != nil {
		return nil, err
	}
	if !auth.FromContext(ctx).Sees(org) {
		return nil, errs.NotFound(req.GetParent())
	}
	pg, err := page.Open(req.GetPageSize(), req.GetPageToken(), "ListProductPolicies", org)
	if err != nil {
		return nil, err
	}
	resp := &commercev1.ListProductPoliciesResponse{}
	err = c.Store.DB.View(func(tx kv.Tx) error {
		products, next, err := store.ListProducts(tx, pg.After, pg.Size)
		if err != nil {
			return err
		}
		for _, p := range products {
			pol, err := policyOf(tx, org, p.ID)
			if err != nil {
				return err
			}
			resp.ProductPolicies = append(resp.ProductPolicies, pol)
		}
		resp.NextPageToken = pg.Next(next)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// policyOf is a product's effective policy in org, as the API shows it.
func policyOf(tx kv.Tx, org, product string) (*commercev1.ProductPolicy, error) {
	v, inherited, err := store.EffectivePolicy(tx, org, product)
	if err != nil {
		return nil, err
	}
	return &commercev1.ProductPolicy{
		Name:      catalog.PolicyName(org, product),
		Product:   catalog.ProductName(product),
		Value:     v,
		Inherited: inherited,
	}, nil
}

// policyAdmin checks that the caller may read or change org's policies: a
// GLOBAL_ADMIN or BILLING_ADMIN of org. Callers from elsewhere learn nothing
// of org (NOT_FOUND for name).
func policyAdmin(caller *auth.Identity, org, name string) error {
	if !caller.Sees(org) {
		return errs.NotFound(name)
	}
	if !caller.MemberOf(org) || !caller.HasRole(auth.GlobalAdmin, auth.BillingAdmin) {
		return errs.Denied("only a GLOBAL_ADMIN or BILLING_ADMIN may manage self-service policies")
	}
	return nil
}

// The update masks of a product's policy and of the organization's
// settings: one field each.
var (
	policyMask   = masks.Spec{Updatable: []string{"value"}, Ignored: []string{"name", "product", "inherited"}}
	settingsMask = masks.Spec{Updatable: []string{"default_policy"}, Ignored: []string{"name"}}
)

// policyChanged records a POLICY_CHANGED event in the feed inside tx.
func policyChanged(tx kv.Tx, org string, caller *auth.Identity, resource string, meta map[string]string, now time.Time) error {
	name, err := store.NewEventName(tx, org)
	if err != nil {
		return err
	}
	_, err = store.InsertEvent(tx, &commercev1.Event{
		Name:       name,
		Type:       commercev1.Event_POLICY_CHANGED,
		Actor:      caller.UserName(),
		Resource:   resource,
		CreateTime: timestamppb.New(now),
		Metadata:   meta,
	})
	return err
}

// UpdateProductPolicy sets a product's own policy in an organization: ENABLED,
// ONLY_TRIALS_WITHOUT_PAYMENT_METHOD or DISABLED. VALUE_UNSPECIFIED removes
// the product's own policy, so that it inherits the organization's default
// again. It answers with the effective policy. A change affects only later
// purchases and trials, and is recorded in the audit feed (a request that
// changes nothing records nothing). GLOBAL_ADMIN and BILLING_ADMIN.
func (c *Catalog) UpdateProductPolicy(ctx context.Context, req *commercev1.UpdateProductPolicyRequest) (*commercev1.ProductPolicy, error) {
	in := req.GetProductPolicy()
	var org, product string
	err := names.ParseInto("product_policy.name", in.GetName(), catalog.PolicyPattern, &org, &product)
	if err != nil {
		return nil, err
	}
	caller := auth.FromContext(ctx)
	if err := policyAdmin(caller, org, in.GetName()); err != nil {
		return nil, err
	}
	paths, err := policyMask.Paths(req.GetUpdateMask(), in)
	if err != nil {
		return nil, err
	}
	// Without a mask, a value of VALUE_UNSPECIFIED is not populated and
	// changes nothing; named in a mask, it resets the policy to inherit.
	change := masks.Named(paths, "value")
	value := in.GetValue()
	if change && value != commercev1.ProductPolicy_VALUE_UNSPECIFIED && !catalog.Settable(value) {
		return nil, errs.Field("product_policy.value", "product_policy.value must be ENABLED, ONLY_TRIALS_WITHOUT_PAYMENT_METHOD or DISABLED (or VALUE_UNSPECIFIED to inherit the default)")
	}
	rid, err := idem.RequestID(ctx, req.GetRequestId())
	if err != nil {
		return nil, err
	}
	now := c.Clock.Now()
	resp := &commercev1.ProductPolicy{}
	_, err = idem.Update(ctx, c.Store.DB, idem.NewKey("UpdateProductPolicy", catalogPrincipal(caller), rid), now, req, resp, func(tx kv.Tx) error {
		p, err := store.GetProduct(tx, product)
		if errors.Is(err, errs.NotFound("")) {
			return errs.NotFound(in.GetName())
		}
		if err != nil {
			return err
		}
		old, err := store.GetPolicy(tx, org, product)
		if err != nil {
			return err
		}
		if !change {
			value = old
		} else if err := store.SetPolicy(tx, org, product, value); err != nil {
			return err
		}
		pol, err := policyOf(tx, org, product)
		if err != nil {
			return err
		}
		if old != value {
			meta := map[string]string{
				audit.MetaProduct:            p.Name(),
				audit.MetaProductDisplayName: p.DisplayName(locale.English),
				audit.MetaPolicy:             pol.GetValue().String(),
			}
			if pol.GetInherited() {
				meta["inherited"] = "true"
			}
			if err := policyChanged(tx, org, caller, pol.GetName(), meta, now); err != nil {
				return err
			}
		}
		proto.Merge(resp, pol)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// GetSelfServiceSettings returns the organization's default policy (ENABLED
// until set). GLOBAL_ADMIN and BILLING_ADMIN, and operators.
func (c *Catalog) GetSelfServiceSettings(ctx context.Context, req *commercev1.GetSelfServiceSettingsRequest) (*commercev1.SelfServiceSettings, error) {
	var org string
	err := names.ParseInto("name", req.GetName(), catalog.SettingsPattern, &org)
	if err != nil {
		return nil, err
	}
	// Operators read the settings too; only the organization's admins change them.
	if caller := auth.FromContext(ctx); !caller.IsOperator() {
		if err := policyAdmin(caller, org, req.GetName()); err != nil {
			return nil, err
		}
	}
	resp := &commercev1.SelfServiceSettings{Name: catalog.SettingsName(org)}
	err = c.Store.DB.View(func(tx kv.Tx) (err error) {
		resp.DefaultPolicy, err = store.GetDefaultPolicy(tx, org)
		return err
	})
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// UpdateSelfServiceSettings sets the organization's default policy, which
// every product without its own follows, new products included. The default
// must be ENABLED, ONLY_TRIALS_WITHOUT_PAYMENT_METHOD or DISABLED: it has
// nothing to inherit from, so VALUE_UNSPECIFIED is refused rather than read
// as a reset. A change is recorded in the audit feed. GLOBAL_ADMIN and
// BILLING_ADMIN.
func (c *Catalog) UpdateSelfServiceSettings(ctx context.Context, req *commercev1.UpdateSelfServiceSettingsRequest) (*commercev1.SelfServiceSettings, error) {
	in := req.GetSelfServiceSettings()
	var org string
	err := names.ParseInto("self_service_settings.name", in.GetName(), catalog.SettingsPattern, &org)
	if err != nil {
		return nil, err
	}
	caller := auth.FromContext(ctx)
	if err := policyAdmin(caller, org, in.GetName()); err != nil {
		return nil, err
	}
	paths, err := settingsMask.Paths(req.GetUpdateMask(), in)
	if err != nil {
		return nil, err
	}
	change := masks.Named(paths, "default_policy")
	value := in.GetDefaultPolicy()
	if change && !catalog.Settable(value) {
		return nil, errs.Field("self_service_settings.default_policy", "self_service_settings.default_policy must be ENABLED, ONLY_TRIALS_WITHOUT_PAYMENT_METHOD or DISABLED")
	}
	rid, err := idem.RequestID(ctx, req.GetRequestId())
	if err != nil {
		return nil, err
	}
	now := c.Clock.Now()
	resp := &commercev1.SelfServiceSettings{}
	_, err = idem.Update(ctx, c.Store.DB, idem.NewKey("UpdateSelfServiceSettings", catalogPrincipal(caller), rid), now, req, resp, func(tx kv.Tx) error {
		old, err := store.GetDefaultPolicy(tx, org)
		if err != nil {
			return err
		}
		if !change {
			value = old
		} else if err := store.SetDefaultPolicy(tx, org, value); err != nil {
			return err
		}
		name := catalog.SettingsName(org)
		if old != value {
			meta := map[string]string{audit.MetaPolicy: value.String(), "scope": "default"}
			if err := policyChanged(tx, org, caller, name, meta, now); err != nil {
				return err
			}
		}
		resp.Name, resp.DefaultPolicy = name, value
		return nil
	})
	if err != nil {
		return nil, err
	}
	return resp, nil
}
