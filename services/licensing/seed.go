package licensing

import (
	"github.com/selfserve/selfserve/services/kit/kv"

	licensingv1 "github.com/selfserve/selfserve/gen/go/selfserve/licensing/v1"
	"github.com/selfserve/selfserve/services/kit/clock"
	"github.com/selfserve/selfserve/services/licensing/directory"
	"github.com/selfserve/selfserve/services/licensing/store"
)

// DemoUser is a seeded user of a demo organization.
type DemoUser struct {
	ID, DisplayName, Email, Location string
	Type                             licensingv1.User_UserType
	Roles                            []licensingv1.User_Role
}

// DemoOrganization is a seeded organization and its users.
type DemoOrganization struct {
	ID, DisplayName, Country string
	Cloud                    licensingv1.Organization_Cloud
	Users                    []DemoUser
}

// Demo is the directory `selfserve dev` seeds: an organization in the global
// cloud with a user of every role, and one in the 21Vianet cloud.
var Demo = []DemoOrganization{
	{
		ID: "contoso", DisplayName: "Contoso", Country: "SE", Cloud: licensingv1.Organization_GLOBAL,
		Users: []DemoUser{
			{"ada", "Ada Lindqvist", "ada@contoso.example", "SE", licensingv1.User_MEMBER, []licensingv1.User_Role{licensingv1.User_GLOBAL_ADMIN}},
			{"bruno", "Bruno Martin", "bruno@contoso.example", "FR", licensingv1.User_MEMBER, []licensingv1.User_Role{licensingv1.User_BILLING_ADMIN}},
			{"li", "Li Wei", "li@contoso.example", "SE", licensingv1.User_MEMBER, []licensingv1.User_Role{licensingv1.User_LICENSE_ADMIN}},
			{"rita", "Rita Berg", "rita@contoso.example", "SE", licensingv1.User_MEMBER, []licensingv1.User_Role{licensingv1.User_GLOBAL_READER}},
			{"max", "Max Holm", "max@contoso.example", "SE", licensingv1.User_MEMBER, nil},
			{"nora", "Nora Dubois", "nora@contoso.example", "FR", licensingv1.User_MEMBER, nil},
			{"gus", "Gus Guest", "gus@partner.example", "US", licensingv1.User_GUEST, nil},
		},
	},
	{
		ID: "fabrikam-cn", DisplayName: "Fabrikam China", Country: "CN", Cloud: licensingv1.Organization_CHINA_21VIANET,
		Users: []DemoUser{
			{"wang", "Wang Fang", "wang@fabrikam.example", "CN", licensingv1.User_MEMBER, []licensingv1.User_Role{licensingv1.User_GLOBAL_ADMIN}},
			{"zhang", "Zhang Min", "zhang@fabrikam.example", "CN", licensingv1.User_MEMBER, nil},
		},
	},
}

// Seed adds the demo directory, once: an organization that exists is left as
// it is, so restarts keep whatever changed since.
func Seed(st *store.Store, clk clock.Clock) error {
	now := clk.Now()
	return st.DB.Update(func(tx kv.Tx) error {
		for _, o := range Demo {
			if _, err := store.GetOrganization(tx, o.ID); err == nil {
				continue
			}
			org, err := directory.NormalizeOrganization(&licensingv1.Organization{DisplayName: o.DisplayName, CountryCode: o.Country, Cloud: o.Cloud})
			if err != nil {
				return err
			}
			if err := store.InsertOrganization(tx, o.ID, org, now); err != nil {
				return err
			}
			for _, du := range o.Users {
				u, err := directory.NormalizeUser(&licensingv1.User{DisplayName: du.DisplayName, Email: du.Email, UserType: du.Type, UsageLocation: du.Location, Roles: du.Roles})
				if err != nil {
					return err
				}
				if err := store.InsertUser(tx, o.ID, du.ID, u, now); err != nil {
					return err
				}
			}
		}
		return nil
	})
}
