package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/timestamppb"

	billingv1 "github.com/selfserve/selfserve/gen/go/selfserve/billing/v1"
	commercev1 "github.com/selfserve/selfserve/gen/go/selfserve/commerce/v1"
	licensingv1 "github.com/selfserve/selfserve/gen/go/selfserve/licensing/v1"
	"github.com/selfserve/selfserve/services/kit/serve"
)

// Report is what `selfserve check` finds: counts of what it read and every
// disagreement between the three stores.
type Report struct {
	Organizations int      `json:"organizations"`
	Subscriptions int      `json:"subscriptions"`
	Pools         int      `json:"pools"`
	Invoices      int      `json:"invoices"`
	Violations    []string `json:"violations"`
}

// runCheck reads every organization's subscriptions, pools and invoices
// through the services' APIs, as an operator, and reports where they
// disagree. It exits non-zero when they do.
func runCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("check", stderr)
	f.dataDir()
	f.addrs(false, true, true, true)
	asJSON := f.Bool("json", false, "print the report as JSON")
	f.DurationVar(&f.cfg.Grace, "timeout", 10*time.Second, "give up a check after six times this")
	cfg, err := f.parse(args)
	if err != nil {
		return err
	}
	signer, err := cfg.signer()
	if err != nil {
		return err
	}
	tok, err := signer.OperatorToken(time.Hour)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Grace*6)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
	conns := map[string]*grpc.ClientConn{}
	for name, addr := range map[string]string{"licensing": cfg.LicensingAddr, "commerce": cfg.CommerceAddr, "billing": cfg.BillingAddr} {
		c, err := serve.Dial(addr)
		if err != nil {
			return err
		}
		defer c.Close()
		conns[name] = c
	}
	rep, err := check(ctx, conns)
	if err != nil {
		return err
	}
	if *asJSON {
		json.NewEncoder(stdout).Encode(rep)
	} else {
		fmt.Fprintf(stdout, "organizations %d, subscriptions %d, pools %d, invoices %d, violations %d\n",
			rep.Organizations, rep.Subscriptions, rep.Pools, rep.Invoices, len(rep.Violations))
		for _, v := range rep.Violations {
			fmt.Fprintln(stdout, "  "+v)
		}
	}
	if len(rep.Violations) > 0 {
		return fmt.Errorf("%d violations", len(rep.Violations))
	}
	return nil
}

// poolStates is the pool state each subscription state implies.
var poolStates = map[commercev1.Subscription_State]licensingv1.License_State{
	commercev1.Subscription_ACTIVE:   licensingv1.License_ENABLED,
	commercev1.Subscription_EXPIRED:  licensingv1.License_WARNING,
	commercev1.Subscription_DISABLED: licensingv1.License_SUSPENDED,
	commercev1.Subscription_DELETED:  licensingv1.License_LOCKED_OUT,
}

// check reads every organization of the system and reports what breaks
// its rules.
func check(ctx context.Context, conns map[string]*grpc.ClientConn) (*Report, error) {
	c := &checker{ctx: ctx, rep: &Report{},
		dir: licensingv1.NewDirectoryServiceClient(conns["licensing"]), lic: licensingv1.NewLicensingServiceClient(conns["licensing"]),
		subs: commercev1.NewSubscriptionServiceClient(conns["commerce"]), accts: billingv1.NewBillingAccountServiceClient(conns["billing"]),
		invs: billingv1.NewInvoiceServiceClient(conns["billing"])}
	var orgs []*licensingv1.Organization
	if err := pages(func(tok string) (string, error) {
		r, err := c.dir.ListOrganizations(ctx, &licensingv1.ListOrganizationsRequest{PageSize: 1000, PageToken: tok})
		orgs = append(orgs, r.GetOrganizations()...)
		return r.GetNextPageToken(), err
	}); err != nil {
		return nil, fmt.Errorf("organizations: %w", err)
	}
	c.rep.Organizations = len(orgs)
	for _, o := range orgs {
		bySub, err := c.subscriptions(o.GetName())
		if err != nil {
			return nil, err
		}
		if err := c.pools(o.GetName(), bySub); err != nil {
			return nil, err
		}
		if err := c.charges(o.GetName(), bySub); err != nil {
			return nil, err
		}
	}
	sort.Strings(c.rep.Violations)
	return c.rep, nil
}

// checker reads the services and reports what breaks the rules.
type checker struct {
	ctx   context.Context
	rep   *Report
	dir   licensingv1.DirectoryServiceClient
	lic   licensingv1.LicensingServiceClient
	subs  commercev1.SubscriptionServiceClient
	accts billingv1.BillingAccountServiceClient
	invs  billingv1.InvoiceServiceClient
}

func (c *checker) bad(format string, args ...any) {
	c.rep.Violations = append(c.rep.Violations, fmt.Sprintf(format, args...))
}

// subscriptions reads every subscription of org, by name.
func (c *checker) subscriptions(org string) (map[string]*commercev1.Subscription, error) {
	bySub := map[string]*commercev1.Subscription{}
	if err := pages(func(tok string) (string, error) {
		r, err := c.subs.ListSubscriptions(c.ctx, &commercev1.ListSubscriptionsRequest{Parent: org, PageSize: 1000, PageToken: tok})
		for _, s := range r.GetSubscriptions() {
			bySub[s.GetName()] = s
		}
		return r.GetNextPageToken(), err
	}); err != nil {
		return nil, fmt.Errorf("subscriptions of %s: %w", org, err)
	}
	c.rep.Subscriptions += len(bySub)
	return bySub, nil
}

// pools checks that every subscription has one pool, in the state, of the
// size, and assigned no more than, the subscription says; and that no pool
// is left without its subscription.
func (c *checker) pools(org string, bySub map[string]*commercev1.Subscription) error {
	pools := map[string]*licensingv1.License{}
	if err := pages(func(tok string) (string, error) {
		r, err := c.lic.ListLicenses(c.ctx, &licensingv1.ListLicensesRequest{Parent: org, PageSize: 1000, PageToken: tok})
		for _, p := range r.GetLicenses() {
			pools[p.GetSubscription()] = p
		}
		return r.GetNextPageToken(), err
	}); err != nil {
		return fmt.Errorf("pools of %s: %w", org, err)
	}
	c.rep.Pools += len(pools)
	for name, s := range bySub {
		p, ok := pools[name]
		switch {
		case !ok:
			c.bad("%s has no pool", name)
		case p.GetState() != poolStates[s.GetState()]:
			c.bad("%s is %s but its pool is %s", name, s.GetState(), p.GetState())
		case s.GetState() != commercev1.Subscription_DELETED && p.GetTotalLicenses() != s.GetQuantity():
			c.bad("%s has %d licenses but its pool %d", name, s.GetQuantity(), p.GetTotalLicenses())
		}
		if ok && p.GetAssignedLicenses() > p.GetTotalLicenses() {
			c.bad("pool of %s is over-assigned: %d of %d", name, p.GetAssignedLicenses(), p.GetTotalLicenses())
		}
	}
	for name := range pools {
		if _, ok := bySub[name]; !ok {
			c.bad("pool of %s has no subscription", name)
		}
	}
	return nil
}

// charges checks that every paid invoice line is for a subscription that
// exists, and that a purchase is paid once.
func (c *checker) charges(org string, bySub map[string]*commercev1.Subscription) error {
	purchases := map[string]int{}
	var accounts []*billingv1.BillingAccount
	if err := pages(func(tok string) (string, error) {
		r, err := c.accts.ListBillingAccounts(c.ctx, &billingv1.ListBillingAccountsRequest{Parent: org, PageSize: 1000, PageToken: tok})
		accounts = append(accounts, r.GetBillingAccounts()...)
		return r.GetNextPageToken(), err
	}); err != nil {
		return fmt.Errorf("billing accounts of %s: %w", org, err)
	}
	for _, a := range accounts {
		if err := pages(func(tok string) (string, error) {
			r, err := c.invs.ListInvoices(c.ctx, &billingv1.ListInvoicesRequest{Parent: a.GetName(), Period: billingv1.ListInvoicesRequest_CUSTOM,
				StartTime: timestamppb.New(time.Unix(0, 0)), EndTime: timestamppb.New(time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)), PageSize: 1000, PageToken: tok})
			for _, inv := range r.GetInvoices() {
				c.rep.Invoices++
				if inv.GetStatus() != billingv1.Invoice_VOID && inv.GetStatus() != billingv1.Invoice_OPEN {
					c.invoiceLines(inv, bySub, purchases)
				}
			}
			return r.GetNextPageToken(), err
		}); err != nil {
			return fmt.Errorf("invoices of %s: %w", a.GetName(), err)
		}
	}
	for name, s := range bySub {
		if s.GetIsTrial() || s.GetStartTime() == nil {
			continue
		}
		if n := purchases[name]; n > 1 {
			c.bad("%s was charged for its purchase %d times", name, n)
		}
	}
	return nil
}

// invoiceLines checks the lines of a settled invoice, counting purchases.
func (c *checker) invoiceLines(inv *billingv1.Invoice, bySub map[string]*commercev1.Subscription, purchases map[string]int) {
	for _, l := range inv.GetLineItems() {
		if l.GetSubscription() == "" {
			continue
		}
		if _, ok := bySub[l.GetSubscription()]; !ok {
			c.bad("%s charges %s, which does not exist", inv.GetName(), l.GetSubscription())
		}
		if l.GetType() == billingv1.LineItem_PURCHASE {
			purchases[l.GetSubscription()]++
		}
	}
}

// pages calls one page after another until the last.
func pages(page func(token string) (string, error)) error {
	tok := ""
	for range 100000 {
		next, err := page(tok)
		if err != nil {
			return err
		}
		if next == "" {
			return nil
		}
		tok = next
	}
	return fmt.Errorf("too many pages")
}
