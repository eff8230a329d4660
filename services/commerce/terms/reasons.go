package terms

import (
	"golang.org/x/text/language"

	commercev1 "github.com/selfserve/selfserve/gen/go/selfserve/commerce/v1"
	"github.com/selfserve/selfserve/services/kit/locale"
)

// reasonLabels are the labels of the cancellation reasons in en, fr, sv and
// zh-CN, in the order a form lists them.
var reasonLabels = []struct {
	reason commercev1.Subscription_Cancellation_Reason
	labels [4]string
}{
	{commercev1.Subscription_Cancellation_NO_LONGER_NEEDED, [4]string{"I no longer need it", "Je n'en ai plus besoin", "Jag behöver den inte längre", "我不再需要它"}},
	{commercev1.Subscription_Cancellation_TOO_EXPENSIVE, [4]string{"It is too expensive", "C'est trop cher", "Den är för dyr", "价格太贵"}},
	{commercev1.Subscription_Cancellation_MISSING_FEATURES, [4]string{"Features I need are missing", "Il manque des fonctionnalités dont j'ai besoin", "Funktioner jag behöver saknas", "缺少我需要的功能"}},
	{commercev1.Subscription_Cancellation_SWITCHED_SERVICE, [4]string{"I switched to another service", "Je suis passé à un autre service", "Jag har bytt till en annan tjänst", "我改用了其他服务"}},
	{commercev1.Subscription_Cancellation_TOO_COMPLEX, [4]string{"It is too complex", "C'est trop complexe", "Den är för komplicerad", "使用太复杂"}},
	{commercev1.Subscription_Cancellation_LOW_QUALITY, [4]string{"The quality is too low", "La qualité est insuffisante", "Kvaliteten är för låg", "质量太差"}},
	{commercev1.Subscription_Cancellation_CUSTOMER_SERVICE, [4]string{"I was unhappy with customer service", "Je n'étais pas satisfait du service client", "Jag var missnöjd med kundtjänsten", "我对客户服务不满意"}},
	{commercev1.Subscription_Cancellation_OTHER, [4]string{"Another reason", "Une autre raison", "Ett annat skäl", "其他原因"}},
}

// messages is the message catalog of the terms' texts: the cancellation
// reasons' labels and the invoice line descriptions.
var messages = func() *locale.Catalog {
	c := locale.NewCatalog("terms")
	for _, r := range reasonLabels {
		c.Set("reason "+r.reason.String(), r.labels)
	}
	setLineFormats(c)
	return c
}()

// Reasons are every cancellation reason with its label in lang.
func Reasons(lang language.Tag) []*commercev1.CancellationReason {
	out := make([]*commercev1.CancellationReason, 0, len(reasonLabels))
	for _, r := range reasonLabels {
		out = append(out, &commercev1.CancellationReason{Reason: r.reason, Label: messages.Sprintf(lang, "reason "+r.reason.String())})
	}
	return out
}
