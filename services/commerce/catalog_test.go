package commerce_test

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	commercev1 "github.com/selfserve/selfserve/gen/go/selfserve/commerce/v1"
	licensingv1 "github.com/selfserve/selfserve/gen/go/selfserve/licensing/v1"
	"github.com/selfserve/selfserve/services/commerce/catalog"
	"github.com/selfserve/selfserve/services/kit/auth"
)

// catalogHarness is the events harness with the catalog seeded and a
// CatalogService client.
// catalogProducts reads every page of the catalog.
func catalogProducts(t *testing.T, h *catalogHarness, ctx context.Context, size int32) []*commercev1.Product {
	t.Helper()
	var all []*commercev1.Product
	token := ""
	for range 100 {
		resp, err := h.catalog.ListProducts(ctx, &commercev1.ListProductsRequest{PageSize: size, PageToken: token})
		if err != nil {
			t.Fatalf("list products: %v", err)
		}
		if size > 0 && len(resp.Products) > int(size) {
			t.Fatalf("page of %d over size %d", len(resp.Products), size)
		}
		all = append(all, resp.Products...)
		if token = resp.NextPageToken; token == "" {
			return all
		}
	}
	t.Fatal("paging never ended")
	return nil
}

// catalogPolicies reads every page of an organization's product policies, by
// product id.
func catalogPolicies(t *testing.T, h *catalogHarness, ctx context.Context, org string, size int32) map[string]*commercev1.ProductPolicy {
	t.Helper()
	out := map[string]*commercev1.ProductPolicy{}
	token := ""
	for range 100 {
		resp, err := h.catalog.ListProductPolicies(ctx, &commercev1.ListProductPoliciesRequest{Parent: "organizations/" + org, PageSize: size, PageToken: token})
		if err != nil {
			t.Fatalf("list policies: %v", err)
		}
		for _, p := range resp.ProductPolicies {
			id := strings.TrimPrefix(p.Product, "products/")
			if p.Name != "organizations/"+org+"/productPolicies/"+id || out[id] != nil {
				t.Fatalf("policy %v: bad or repeated name", p)
			}
			out[id] = p
		}
		if token = resp.NextPageToken; token == "" {
			return out
		}
	}
	t.Fatal("paging never ended")
	return nil
}

func setProductPolicy(h *catalogHarness, ctx context.Context, org, product string, v commercev1.ProductPolicy_Value, requestID string) (*commercev1.ProductPolicy, error) {
	return h.catalog.UpdateProductPolicy(ctx, &commercev1.UpdateProductPolicyRequest{
		ProductPolicy: &commercev1.ProductPolicy{Name: "organizations/" + org + "/productPolicies/" + product, Value: v},
		UpdateMask:    &fieldmaskpb.FieldMask{Paths: []string{"value"}},
		RequestId:     requestID,
	})
}

func setDefaultPolicy(h *catalogHarness, ctx context.Context, org string, v commercev1.ProductPolicy_Value, requestID string) (*commercev1.SelfServiceSettings, error) {
	return h.catalog.UpdateSelfServiceSettings(ctx, &commercev1.UpdateSelfServiceSettingsRequest{
		SelfServiceSettings: &commercev1.SelfServiceSettings{Name: "organizations/" + org + "/selfServiceSettings", DefaultPolicy: v},
		UpdateMask:          &fieldmaskpb.FieldMask{Paths: []string{"defaultPolicy"}},
		RequestId:           requestID,
	})
}

func TestCatalogProducts(t *testing.T) {
	h := serveCatalog(t, t.TempDir(), newSigner(t))
	en := catalogProducts(t, h, h.user(t, "acme", "max"), 0)
	if len(en) < 7 || len(en) != len(catalog.Seed) {
		t.Fatalf("listed %d products, want the %d seeded", len(en), len(catalog.Seed))
	}
	fr := catalogProducts(t, h, h.token(t, auth.Claims{Subject: "max", Org: "acme"}, "accept-language", "fr-FR,fr;q=0.9,en;q=0.5"), 3)
	if len(fr) != len(en) {
		t.Fatalf("paged French list has %d products, want %d", len(fr), len(en))
	}
	for i := range en {
		if en[i].Name != fr[i].Name || en[i].SkuPartNumber != fr[i].SkuPartNumber || len(en[i].Prices) != len(fr[i].Prices) {
			t.Fatalf("product %d differs beyond its texts: %v vs %v", i, en[i], fr[i])
		}
		if en[i].DisplayName == fr[i].DisplayName || fr[i].DisplayName == "" {
			t.Errorf("%s: French name %q, English %q", en[i].Name, fr[i].DisplayName, en[i].DisplayName)
		}
	}

	// The contract's shape of the catalog (API.md §3).
	var noPayment, trialOnly, notInChina bool
	for _, p := range en {
		noPayment = noPayment || p.Trial != nil && !p.Trial.RequiresPaymentMethod && !p.TrialOnly
		trialOnly = trialOnly || p.TrialOnly && p.Trial != nil && len(p.Prices) == 0
		notInChina = notInChina || !containsCloud(p.AvailableClouds, licensingv1.Organization_CHINA_21VIANET)
		if !p.TrialOnly && len(p.Prices) == 0 {
			t.Errorf("%s has no prices", p.Name)
		}
	}
	if !noPayment || !trialOnly || !notInChina {
		t.Fatalf("catalog lacks a trial without payment method (%v), a trial-only product (%v) or one not in CHINA_21VIANET (%v)", noPayment, trialOnly, notInChina)
	}

	// Get, in Chinese, by anyone signed in: an operator and a service too.
	for _, ctx := range []context.Context{
		h.token(t, auth.Claims{Subject: "wang", Org: "fabrikam"}, "accept-language", "zh-CN"),
		h.token(t, auth.Claims{Subject: "root", Roles: []string{auth.Operator}}, "accept-language", "zh-Hans"),
	} {
		p, err := h.catalog.GetProduct(ctx, &commercev1.GetProductRequest{Name: "products/sketchboard"})
		if err != nil {
			t.Fatal(err)
		}
		if p.DisplayName != "Sketchboard 绘图" || p.Trial.GetDays() != 30 || p.Trial.GetLicenses() != 25 || p.Trial.GetRequiresPaymentMethod() {
			t.Fatalf("sketchboard: %v", p)
		}
		if usd := priceOf(p, commercev1.Product_MONTHLY, "USD"); usd != 900 {
			t.Fatalf("sketchboard costs %d US cents a month, want 900", usd)
		}
		if jpy, annual := priceOf(p, commercev1.Product_MONTHLY, "JPY"), priceOf(p, commercev1.Product_ANNUAL, "JPY"); jpy != 1350 || annual != 13500 {
			t.Fatalf("sketchboard in yen: %d monthly, %d annual", jpy, annual)
		}
	}
	if _, err := h.catalog.GetProduct(h.service(t), &commercev1.GetProductRequest{Name: "products/huddle-rooms"}); err != nil {
		t.Fatal(err)
	}

	member := h.user(t, "acme", "max")
	_, err := h.catalog.GetProduct(member, &commercev1.GetProductRequest{Name: "products/no-such-product"})
	wantErr(t, err, codes.NotFound, "RESOURCE_NOT_FOUND", "")
	_, err = h.catalog.GetProduct(member, &commercev1.GetProductRequest{Name: "sketchboard"})
	wantErr(t, err, codes.InvalidArgument, "INVALID_RESOURCE_NAME", "name")
	_, err = h.catalog.ListProducts(member, &commercev1.ListProductsRequest{PageSize: -1})
	wantErr(t, err, codes.InvalidArgument, "INVALID_FIELD", "page_size")
	_, err = h.catalog.ListProducts(member, &commercev1.ListProductsRequest{PageToken: "garbage"})
	wantErr(t, err, codes.InvalidArgument, "INVALID_PAGE_TOKEN", "page_token")

	// A product page token is refused by another list.
	first, err := h.catalog.ListProducts(member, &commercev1.ListProductsRequest{PageSize: 1})
	if err != nil || first.NextPageToken == "" {
		t.Fatalf("first page: %v %v", first, err)
	}
	_, err = h.catalog.ListProductPolicies(member, &commercev1.ListProductPoliciesRequest{Parent: "organizations/acme", PageToken: first.NextPageToken})
	wantErr(t, err, codes.InvalidArgument, "INVALID_PAGE_TOKEN", "page_token")

	// No token, or a bad one.
	_, err = h.catalog.ListProducts(context.Background(), &commercev1.ListProductsRequest{})
	wantErr(t, err, codes.Unauthenticated, "TOKEN_MISSING", "")
	bad := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer not-a-token")
	_, err = h.catalog.GetProduct(bad, &commercev1.GetProductRequest{Name: "products/sketchboard"})
	wantErr(t, err, codes.Unauthenticated, "TOKEN_INVALID", "")
}

func containsCloud(clouds []licensingv1.Organization_Cloud, c licensingv1.Organization_Cloud) bool {
	for _, x := range clouds {
		if x == c {
			return true
		}
	}
	return false
}

func priceOf(p *commercev1.Product, freq commercev1.Product_BillingFrequency, currency string) int64 {
	for _, pr := range p.Prices {
		if pr.BillingFrequency == freq && pr.CurrencyCode == currency {
			return pr.UnitAmountMinor
		}
	}
	return -1
}

func TestCatalogPolicies(t *testing.T) {
	h := serveCatalog(t, t.TempDir(), newSigner(t))
	member := h.user(t, "acme", "max")
	globalAdmin := h.user(t, "acme", "ada", auth.GlobalAdmin)
	billingAdmin := h.user(t, "acme", "bruno", auth.BillingAdmin)
	licenseAdmin := h.user(t, "acme", "li", auth.LicenseAdmin)
	reader := h.user(t, "acme", "rita", auth.GlobalReader)
	outsider := h.user(t, "globex", "gil", auth.GlobalAdmin)

	// Nothing set: every product follows the default, ENABLED.
	pols := catalogPolicies(t, h, member, "acme", 2)
	if len(pols) != len(catalog.Seed) {
		t.Fatalf("%d policies, want one per product (%d)", len(pols), len(catalog.Seed))
	}
	for id, p := range pols {
		if p.Value != commercev1.ProductPolicy_ENABLED || !p.Inherited {
			t.Fatalf("%s: %v, want ENABLED inherited", id, p)
		}
	}
	settings, err := h.catalog.GetSelfServiceSettings(billingAdmin, &commercev1.GetSelfServiceSettingsRequest{Name: "organizations/acme/selfServiceSettings"})
	if err != nil || settings.DefaultPolicy != commercev1.ProductPolicy_ENABLED || settings.Name != "organizations/acme/selfServiceSettings" {
		t.Fatalf("settings: %v %v", settings, err)
	}

	// A GLOBAL_ADMIN disables one product.
	got, err := setProductPolicy(h, globalAdmin, "acme", "sketchboard", commercev1.ProductPolicy_DISABLED, "")
	if err != nil {
		t.Fatal(err)
	}
	want := &commercev1.ProductPolicy{Name: "organizations/acme/productPolicies/sketchboard", Product: "products/sketchboard", Value: commercev1.ProductPolicy_DISABLED}
	if !proto.Equal(got, want) {
		t.Fatalf("update answered %v, want %v", got, want)
	}
	pols = catalogPolicies(t, h, member, "acme", 50)
	if p := pols["sketchboard"]; p.Value != commercev1.ProductPolicy_DISABLED || p.Inherited {
		t.Fatalf("sketchboard: %v", p)
	}
	if p := pols["formwise"]; p.Value != commercev1.ProductPolicy_ENABLED || !p.Inherited {
		t.Fatalf("formwise: %v", p)
	}

	// A BILLING_ADMIN sets the default: every other product inherits it.
	s, err := setDefaultPolicy(h, billingAdmin, "acme", commercev1.ProductPolicy_ONLY_TRIALS_WITHOUT_PAYMENT_METHOD, "")
	if err != nil || s.DefaultPolicy != commercev1.ProductPolicy_ONLY_TRIALS_WITHOUT_PAYMENT_METHOD {
		t.Fatalf("set default: %v %v", s, err)
	}
	for id, p := range catalogPolicies(t, h, member, "acme", 50) {
		want, inherited := commercev1.ProductPolicy_ONLY_TRIALS_WITHOUT_PAYMENT_METHOD, true
		if id == "sketchboard" {
			want, inherited = commercev1.ProductPolicy_DISABLED, false
		}
		if p.Value != want || p.Inherited != inherited {
			t.Fatalf("%s: %v, want %v inherited=%v", id, p, want, inherited)
		}
	}
	// Another organization is untouched.
	for id, p := range catalogPolicies(t, h, outsider, "globex", 50) {
		if p.Value != commercev1.ProductPolicy_ENABLED || !p.Inherited {
			t.Fatalf("globex %s: %v", id, p)
		}
	}

	// VALUE_UNSPECIFIED puts a product back on the default.
	got, err = setProductPolicy(h, billingAdmin, "acme", "sketchboard", commercev1.ProductPolicy_VALUE_UNSPECIFIED, "")
	if err != nil || got.Value != commercev1.ProductPolicy_ONLY_TRIALS_WITHOUT_PAYMENT_METHOD || !got.Inherited {
		t.Fatalf("reset: %v %v", got, err)
	}
	// An explicit ENABLED under a stricter default is the product's own.
	got, err = setProductPolicy(h, billingAdmin, "acme", "formwise", commercev1.ProductPolicy_ENABLED, "")
	if err != nil || got.Value != commercev1.ProductPolicy_ENABLED || got.Inherited {
		t.Fatalf("own ENABLED: %v %v", got, err)
	}

	// Members read policies but cannot change them; neither can other admin roles.
	for _, ctx := range []context.Context{member, licenseAdmin, reader} {
		_, err = setProductPolicy(h, ctx, "acme", "formwise", commercev1.ProductPolicy_DISABLED, "")
		wantErr(t, err, codes.PermissionDenied, "PERMISSION_DENIED", "")
		_, err = setDefaultPolicy(h, ctx, "acme", commercev1.ProductPolicy_DISABLED, "")
		wantErr(t, err, codes.PermissionDenied, "PERMISSION_DENIED", "")
		_, err = h.catalog.GetSelfServiceSettings(ctx, &commercev1.GetSelfServiceSettingsRequest{Name: "organizations/acme/selfServiceSettings"})
		wantErr(t, err, codes.PermissionDenied, "PERMISSION_DENIED", "")
		if n := len(catalogPolicies(t, h, ctx, "acme", 50)); n != len(catalog.Seed) {
			t.Fatalf("listed %d policies", n)
		}
	}
	// An operator sees the organization but is not its admin.
	operator := h.user(t, "", "root", auth.Operator)
	_, err = setProductPolicy(h, operator, "acme", "formwise", commercev1.ProductPolicy_DISABLED, "")
	wantErr(t, err, codes.PermissionDenied, "PERMISSION_DENIED", "")

	// Another organization's admin learns nothing of acme.
	_, err = h.catalog.ListProductPolicies(outsider, &commercev1.ListProductPoliciesRequest{Parent: "organizations/acme"})
	wantErr(t, err, codes.NotFound, "RESOURCE_NOT_FOUND", "")
	_, err = setProductPolicy(h, outsider, "acme", "formwise", commercev1.ProductPolicy_DISABLED, "")
	wantErr(t, err, codes.NotFound, "RESOURCE_NOT_FOUND", "")
	_, err = setDefaultPolicy(h, outsider, "acme", commercev1.ProductPolicy_DISABLED, "")
	wantErr(t, err, codes.NotFound, "RESOURCE_NOT_FOUND", "")
	_, err = h.catalog.GetSelfServiceSettings(outsider, &commercev1.GetSelfServiceSettingsRequest{Name: "organizations/acme/selfServiceSettings"})
	wantErr(t, err, codes.NotFound, "RESOURCE_NOT_FOUND", "")

	// Bad requests.
	_, err = setProductPolicy(h, globalAdmin, "acme", "no-such-product", commercev1.ProductPolicy_DISABLED, "")
	wantErr(t, err, codes.NotFound, "RESOURCE_NOT_FOUND", "")
	_, err = setProductPolicy(h, globalAdmin, "acme", "formwise", commercev1.ProductPolicy_Value(9), "")
	wantErr(t, err, codes.InvalidArgument, "INVALID_FIELD", "product_policy.value")
	_, err = h.catalog.UpdateProductPolicy(globalAdmin, &commercev1.UpdateProductPolicyRequest{
		ProductPolicy: &commercev1.ProductPolicy{Name: "organizations/acme/productPolicies/formwise", Value: commercev1.ProductPolicy_DISABLED},
		UpdateMask:    &fieldmaskpb.FieldMask{Paths: []string{"value", "display_name"}},
	})
	wantErr(t, err, codes.InvalidArgument, "INVALID_FIELD", "update_mask")
	_, err = h.catalog.UpdateProductPolicy(globalAdmin, &commercev1.UpdateProductPolicyRequest{
		ProductPolicy: &commercev1.ProductPolicy{Name: "organizations/acme/products/formwise", Value: commercev1.ProductPolicy_DISABLED},
	})
	wantErr(t, err, codes.InvalidArgument, "INVALID_RESOURCE_NAME", "product_policy.name")
	_, err = setDefaultPolicy(h, globalAdmin, "acme", commercev1.ProductPolicy_VALUE_UNSPECIFIED, "")
	wantErr(t, err, codes.InvalidArgument, "INVALID_FIELD", "self_service_settings.default_policy")
	_, err = h.catalog.UpdateSelfServiceSettings(globalAdmin, &commercev1.UpdateSelfServiceSettingsRequest{
		SelfServiceSettings: &commercev1.SelfServiceSettings{Name: "organizations/acme/selfServiceSettings", DefaultPolicy: commercev1.ProductPolicy_DISABLED},
		UpdateMask:          &fieldmaskpb.FieldMask{Paths: []string{"value"}},
	})
	wantErr(t, err, codes.InvalidArgument, "INVALID_FIELD", "update_mask")
	// Without a mask only populated fields change: an unset value, nothing;
	// an empty mask changes nothing either.
	before, err := h.catalog.GetSelfServiceSettings(globalAdmin, &commercev1.GetSelfServiceSettingsRequest{Name: "organizations/acme/selfServiceSettings"})
	if err != nil {
		t.Fatal(err)
	}
	for _, mask := range []*fieldmaskpb.FieldMask{nil, {}} {
		got, err := h.catalog.UpdateSelfServiceSettings(globalAdmin, &commercev1.UpdateSelfServiceSettingsRequest{
			SelfServiceSettings: &commercev1.SelfServiceSettings{Name: "organizations/acme/selfServiceSettings"}, UpdateMask: mask})
		if err != nil || got.GetDefaultPolicy() != before.GetDefaultPolicy() {
			t.Fatalf("mask %v changing nothing: %v %v, want %v", mask, got, err, before.GetDefaultPolicy())
		}
		pol, err := h.catalog.UpdateProductPolicy(globalAdmin, &commercev1.UpdateProductPolicyRequest{
			ProductPolicy: &commercev1.ProductPolicy{Name: "organizations/acme/productPolicies/formwise", Value: commercev1.ProductPolicy_Value(9)}, UpdateMask: mask})
		if mask == nil {
			wantErr(t, err, codes.InvalidArgument, "INVALID_FIELD", "product_policy.value") // populated, so checked
		} else if err != nil {
			t.Fatalf("empty mask on a policy: %v %v", pol, err)
		}
	}
	// Output-only fields in the mask are ignored (AIP-203).
	got, err = h.catalog.UpdateProductPolicy(globalAdmin, &commercev1.UpdateProductPolicyRequest{
		ProductPolicy: &commercev1.ProductPolicy{Name: "organizations/acme/productPolicies/formwise", Value: commercev1.ProductPolicy_DISABLED, Inherited: true},
		UpdateMask:    &fieldmaskpb.FieldMask{Paths: []string{"value", "inherited", "product"}},
	})
	if err != nil || got.Value != commercev1.ProductPolicy_DISABLED || got.Inherited {
		t.Fatalf("mask with output-only fields: %v %v", got, err)
	}

	// Policies and settings survive a restart, and the reseeding.
	dir := t.TempDir()
	signer := newSigner(t)
	first := serveCatalog(t, dir, signer)
	if _, err := setProductPolicy(first, first.user(t, "acme", "ada", auth.GlobalAdmin), "acme", "formwise", commercev1.ProductPolicy_DISABLED, ""); err != nil {
		t.Fatal(err)
	}
	first.stop()
	again := serveCatalog(t, dir, signer)
	if p := catalogPolicies(t, again, again.user(t, "acme", "max"), "acme", 50)["formwise"]; p.GetValue() != commercev1.ProductPolicy_DISABLED {
		t.Fatalf("after restart: %v", p)
	}
}

func TestCatalogPolicyRequestIDs(t *testing.T) {
	h := serveCatalog(t, t.TempDir(), newSigner(t))
	admin := h.user(t, "acme", "ada", auth.GlobalAdmin)

	first, err := setProductPolicy(h, admin, "acme", "milestone-planner", commercev1.ProductPolicy_DISABLED, "req-1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := setProductPolicy(h, admin, "acme", "milestone-planner", commercev1.ProductPolicy_ENABLED, "req-2"); err != nil {
		t.Fatal(err)
	}
	// The replay answers as the first time and changes nothing.
	replay, err := setProductPolicy(h, admin, "acme", "milestone-planner", commercev1.ProductPolicy_DISABLED, "req-1")
	if err != nil || !proto.Equal(replay, first) {
		t.Fatalf("replay: %v %v, want %v", replay, err, first)
	}
	if p := catalogPolicies(t, h, admin, "acme", 50)["milestone-planner"]; p.Value != commercev1.ProductPolicy_ENABLED {
		t.Fatalf("the replay changed the policy: %v", p)
	}
	// The same id with another request.
	_, err = setProductPolicy(h, admin, "acme", "milestone-planner", commercev1.ProductPolicy_ONLY_TRIALS_WITHOUT_PAYMENT_METHOD, "req-1")
	wantErr(t, err, codes.InvalidArgument, "REQUEST_ID_REUSED", "request_id")
	_, err = setProductPolicy(h, admin, "acme", "formwise", commercev1.ProductPolicy_DISABLED, "req-1")
	wantErr(t, err, codes.InvalidArgument, "REQUEST_ID_REUSED", "request_id")
	_, err = setProductPolicy(h, admin, "acme", "formwise", commercev1.ProductPolicy_DISABLED, "bad id!")
	wantErr(t, err, codes.InvalidArgument, "INVALID_REQUEST_ID", "request_id")

	// The Idempotency-Key header works as the request id, for the settings too.
	keyed := h.token(t, auth.Claims{Subject: "ada", Org: "acme", Roles: []string{auth.GlobalAdmin}}, "idempotency-key", "key-1")
	s1, err := setDefaultPolicy(h, keyed, "acme", commercev1.ProductPolicy_DISABLED, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := setDefaultPolicy(h, admin, "acme", commercev1.ProductPolicy_ENABLED, "req-3"); err != nil {
		t.Fatal(err)
	}
	s2, err := setDefaultPolicy(h, keyed, "acme", commercev1.ProductPolicy_DISABLED, "")
	if err != nil || !proto.Equal(s1, s2) {
		t.Fatalf("settings replay: %v %v, want %v", s2, err, s1)
	}
	_, err = setDefaultPolicy(h, keyed, "acme", commercev1.ProductPolicy_ONLY_TRIALS_WITHOUT_PAYMENT_METHOD, "")
	wantErr(t, err, codes.InvalidArgument, "REQUEST_ID_REUSED", "request_id")
	// Request ids belong to their caller: another admin may use the same one.
	other := h.user(t, "acme", "bruno", auth.BillingAdmin)
	if _, err := setProductPolicy(h, other, "acme", "formwise", commercev1.ProductPolicy_DISABLED, "req-1"); err != nil {
		t.Fatalf("another caller's request id: %v", err)
	}
}

func TestCatalogPolicyEvents(t *testing.T) {
	h := serveCatalog(t, t.TempDir(), newSigner(t))
	admin := h.user(t, "acme", "ada", auth.GlobalAdmin)
	billing := h.user(t, "acme", "bruno", auth.BillingAdmin)

	if _, err := setProductPolicy(h, admin, "acme", "sketchboard", commercev1.ProductPolicy_DISABLED, "r1"); err != nil {
		t.Fatal(err)
	}
	// A replay and a change to the same value record nothing more.
	if _, err := setProductPolicy(h, admin, "acme", "sketchboard", commercev1.ProductPolicy_DISABLED, "r1"); err != nil {
		t.Fatal(err)
	}
	if _, err := setProductPolicy(h, admin, "acme", "sketchboard", commercev1.ProductPolicy_DISABLED, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := setDefaultPolicy(h, billing, "acme", commercev1.ProductPolicy_ONLY_TRIALS_WITHOUT_PAYMENT_METHOD, ""); err != nil {
		t.Fatal(err)
	}

	_, events := feed(t, h.harness, admin, "acme", 50)
	if len(events) != 2 {
		t.Fatalf("%d events, want 2: %v", len(events), events)
	}
	byScope := map[string]*commercev1.Event{}
	for _, e := range events {
		if e.Type != commercev1.Event_POLICY_CHANGED {
			t.Fatalf("event of type %v", e.Type)
		}
		byScope[e.Metadata["scope"]] = e
	}
	product, def := byScope[""], byScope["default"]
	if product == nil || def == nil {
		t.Fatalf("events: %v", events)
	}
	if product.Actor != "organizations/acme/users/ada" || product.Metadata["product"] != "products/sketchboard" || product.Metadata["policy"] != "DISABLED" ||
		product.Resource != "organizations/acme/productPolicies/sketchboard" {
		t.Fatalf("product event: %v", product)
	}
	if !strings.Contains(product.Description, "Sketchboard Diagrams") || !strings.Contains(product.Description, "disabled") {
		t.Fatalf("product event described as %q", product.Description)
	}
	if def.Actor != "organizations/acme/users/bruno" || def.Metadata["policy"] != "ONLY_TRIALS_WITHOUT_PAYMENT_METHOD" || def.Resource != "organizations/acme/selfServiceSettings" {
		t.Fatalf("default event: %v", def)
	}
	// The feed is acme's only.
	if got, _ := feed(t, h.harness, h.user(t, "globex", "gil", auth.GlobalAdmin), "globex", 50); len(got) != 0 {
		t.Fatalf("globex sees %v", got)
	}
}
