package terms

import (
	"testing"

	commercev1 "github.com/selfserve/selfserve/gen/go/selfserve/commerce/v1"
	"github.com/selfserve/selfserve/services/kit/locale"
)

func TestEveryReasonHasALabelInEveryLanguage(t *testing.T) {
	english := map[commercev1.Subscription_Cancellation_Reason]string{}
	for _, r := range Reasons(locale.English) {
		english[r.Reason] = r.Label
	}
	for v := range commercev1.Subscription_Cancellation_Reason_name {
		r := commercev1.Subscription_Cancellation_Reason(v)
		if r != commercev1.Subscription_Cancellation_REASON_UNSPECIFIED && english[r] == "" {
			t.Errorf("%s has no label", r)
		}
	}
	for _, lang := range locale.Supported[1:] {
		for _, r := range Reasons(lang) {
			if r.Label == "" || r.Label == english[r.Reason] {
				t.Errorf("%s in %s: %q", r.Reason, locale.Code(lang), r.Label)
			}
		}
	}
}
