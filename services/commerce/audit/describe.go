package audit

import (
	"encoding/json"
	"strconv"
	"strings"

	"golang.org/x/text/language"
	"golang.org/x/text/message/catalog"

	commercev1 "github.com/selfserve/selfserve/gen/go/selfserve/commerce/v1"
	"github.com/selfserve/selfserve/services/kit/locale"
	"github.com/selfserve/selfserve/services/kit/names"
)

// Metadata keys the feed reads to describe an event. Sources set those they
// know; a missing one gives a more general sentence.
const (
	MetaProductDisplayName = "product_display_name" // the product's display name
	MetaProduct            = "product"              // the product, by display name or resource name
	MetaSubscription       = "subscription"         // the subscription, by resource name
	MetaCount              = "count"                // how many licenses (purchase, trial, assign, unassign)
	MetaUsers              = "users"                // comma-separated user names (assign, unassign)
	MetaUserDisplayNames   = "user_display_names"   // a JSON array of their display names, in the same order
	MetaFrom               = "from"                 // the old quantity
	MetaTo                 = "to"                   // the new quantity
	MetaReason             = "reason"               // a cancellation reason, e.g. TOO_EXPENSIVE
	MetaState              = "state"                // the new subscription state, e.g. EXPIRED
	MetaAutoRenew          = "auto_renew"           // "true" or "false"
	MetaPolicy             = "policy"               // a policy value, e.g. DISABLED
	MetaTarget             = "target"               // the subscription a take-over moved users to
	MetaBrand              = "brand"                // a card brand, e.g. VISA, or ALIPAY
	MetaLast4              = "last4"                // the last 4 digits of a card
)

// sentence is one wording in en, fr, sv and zh-CN, in that order (the order
// of locale.Supported). Placeholders are written {like_this}.
type sentence [4]string

// sentences holds, for every event type, its wordings from the most to the
// least specific: Describe takes the first whose placeholders all have a
// value. The last of each needs only {actor}, so one always fits.
var sentences = map[commercev1.Event_Type][]sentence{
	commercev1.Event_TYPE_UNSPECIFIED: {
		{"{actor} made a change to {item}.", "{actor} a apporté une modification à {item}.", "{actor} gjorde en ändring av {item}.", "{actor}对 {item} 进行了更改。"},
		{"{actor} made a change.", "{actor} a apporté une modification.", "{actor} gjorde en ändring.", "{actor}进行了更改。"},
	},
	commercev1.Event_SUBSCRIPTION_PURCHASED: {
		{"{actor} bought {licenses} of {item}.", "{actor} a acheté {licenses} de {item}.", "{actor} köpte {licenses} för {item}.", "{actor}购买了 {item} 的 {licenses}。"},
		{"{actor} bought a subscription to {item}.", "{actor} a acheté un abonnement à {item}.", "{actor} köpte en prenumeration på {item}.", "{actor}购买了 {item} 的订阅。"},
		{"{actor} bought a subscription.", "{actor} a acheté un abonnement.", "{actor} köpte en prenumeration.", "{actor}购买了一个订阅。"},
	},
	commercev1.Event_TRIAL_STARTED: {
		{"{actor} started a trial of {item} with {licenses}.", "{actor} a démarré un essai de {item} avec {licenses}.", "{actor} startade en provperiod av {item} med {licenses}.", "{actor}开始试用 {item}，含 {licenses}。"},
		{"{actor} started a trial of {item}.", "{actor} a démarré un essai de {item}.", "{actor} startade en provperiod av {item}.", "{actor}开始试用 {item}。"},
		{"{actor} started a trial.", "{actor} a démarré un essai.", "{actor} startade en provperiod.", "{actor}开始了一个试用。"},
	},
	commercev1.Event_TRIAL_EXTENDED: {
		{"{actor} extended the trial of {item}.", "{actor} a prolongé l'essai de {item}.", "{actor} förlängde provperioden av {item}.", "{actor}延长了 {item} 的试用期。"},
		{"{actor} extended a trial.", "{actor} a prolongé un essai.", "{actor} förlängde en provperiod.", "{actor}延长了一个试用期。"},
	},
	commercev1.Event_TRIAL_CONVERTED: {
		{"{actor} converted the trial of {item} to a paid subscription.", "{actor} a converti l'essai de {item} en abonnement payant.", "{actor} konverterade provperioden av {item} till en betald prenumeration.", "{actor}将 {item} 的试用转换为付费订阅。"},
		{"{actor} converted a trial to a paid subscription.", "{actor} a converti un essai en abonnement payant.", "{actor} konverterade en provperiod till en betald prenumeration.", "{actor}将一个试用转换为付费订阅。"},
	},
	commercev1.Event_QUANTITY_CHANGED: {
		{"{actor} changed the number of licenses of {item} from {from} to {to}.", "{actor} a modifié le nombre de licences de {item} de {from} à {to}.", "{actor} ändrade antalet licenser för {item} från {from} till {to}.", "{actor}将 {item} 的许可证数量从 {from} 更改为 {to}。"},
		{"{actor} changed the number of licenses of {item} to {to}.", "{actor} a fixé le nombre de licences de {item} à {to}.", "{actor} ändrade antalet licenser för {item} till {to}.", "{actor}将 {item} 的许可证数量更改为 {to}。"},
		{"{actor} changed the number of licenses of {item}.", "{actor} a modifié le nombre de licences de {item}.", "{actor} ändrade antalet licenser för {item}.", "{actor}更改了 {item} 的许可证数量。"},
		{"{actor} changed the number of licenses of a subscription.", "{actor} a modifié le nombre de licences d'un abonnement.", "{actor} ändrade antalet licenser för en prenumeration.", "{actor}更改了一个订阅的许可证数量。"},
	},
	commercev1.Event_LICENSES_ASSIGNED: {
		{"{actor} assigned {licenses} of {item} to {users}.", "{actor} a attribué {licenses} de {item} à {users}.", "{actor} tilldelade {licenses} för {item} till {users}.", "{actor}将 {item} 的 {licenses}分配给了 {users}。"},
		{"{actor} assigned {licenses} to {users}.", "{actor} a attribué {licenses} à {users}.", "{actor} tilldelade {licenses} till {users}.", "{actor}将 {licenses}分配给了 {users}。"},
		{"{actor} assigned {licenses} of {item}.", "{actor} a attribué {licenses} de {item}.", "{actor} tilldelade {licenses} för {item}.", "{actor}分配了 {item} 的 {licenses}。"},
		{"{actor} assigned licenses of {item}.", "{actor} a attribué des licences de {item}.", "{actor} tilldelade licenser för {item}.", "{actor}分配了 {item} 的许可证。"},
		{"{actor} assigned licenses.", "{actor} a attribué des licences.", "{actor} tilldelade licenser.", "{actor}分配了许可证。"},
	},
	commercev1.Event_LICENSES_UNASSIGNED: {
		{"{actor} unassigned {licenses} of {item} from {users}.", "{actor} a retiré {licenses} de {item} à {users}.", "{actor} tog bort {licenses} för {item} från {users}.", "{actor}从 {users} 收回了 {item} 的 {licenses}。"},
		{"{actor} unassigned {licenses} from {users}.", "{actor} a retiré {licenses} à {users}.", "{actor} tog bort {licenses} från {users}.", "{actor}从 {users} 收回了 {licenses}。"},
		{"{actor} unassigned {licenses} of {item}.", "{actor} a retiré {licenses} de {item}.", "{actor} tog bort {licenses} för {item}.", "{actor}收回了 {item} 的 {licenses}。"},
		{"{actor} unassigned licenses of {item}.", "{actor} a retiré des licences de {item}.", "{actor} tog bort licenser för {item}.", "{actor}收回了 {item} 的许可证。"},
		{"{actor} unassigned licenses.", "{actor} a retiré des licences.", "{actor} tog bort licenser.", "{actor}收回了许可证。"},
	},
	commercev1.Event_SUBSCRIPTION_CANCELLED: {
		{"{actor} cancelled {item} (reason: {reason}).", "{actor} a résilié {item} (motif : {reason}).", "{actor} sade upp {item} (orsak: {reason}).", "{actor}取消了 {item}（原因：{reason}）。"},
		{"{actor} cancelled {item}.", "{actor} a résilié {item}.", "{actor} sade upp {item}.", "{actor}取消了 {item}。"},
		{"{actor} cancelled a subscription (reason: {reason}).", "{actor} a résilié un abonnement (motif : {reason}).", "{actor} sade upp en prenumeration (orsak: {reason}).", "{actor}取消了一个订阅（原因：{reason}）。"},
		{"{actor} cancelled a subscription.", "{actor} a résilié un abonnement.", "{actor} sade upp en prenumeration.", "{actor}取消了一个订阅。"},
	},
	commercev1.Event_SUBSCRIPTION_REACTIVATED: {
		{"{actor} reactivated {item}.", "{actor} a réactivé {item}.", "{actor} återaktiverade {item}.", "{actor}重新激活了 {item}。"},
		{"{actor} reactivated a subscription.", "{actor} a réactivé un abonnement.", "{actor} återaktiverade en prenumeration.", "{actor}重新激活了一个订阅。"},
	},
	commercev1.Event_SUBSCRIPTION_RENEWED: {
		{"{actor} renewed {item}.", "{actor} a renouvelé {item}.", "{actor} förnyade {item}.", "{actor}续订了 {item}。"},
		{"{actor} renewed a subscription.", "{actor} a renouvelé un abonnement.", "{actor} förnyade en prenumeration.", "{actor}续订了一个订阅。"},
	},
	commercev1.Event_SUBSCRIPTION_STATE_CHANGED: {
		{"{actor} changed the state of {item} to {state}.", "{actor} a changé l'état de {item} en « {state} ».", "{actor} ändrade tillståndet för {item} till {state}.", "{actor}将 {item} 的状态更改为“{state}”。"},
		{"{actor} changed the state of {item}.", "{actor} a changé l'état de {item}.", "{actor} ändrade tillståndet för {item}.", "{actor}更改了 {item} 的状态。"},
		{"{actor} changed the state of a subscription to {state}.", "{actor} a changé l'état d'un abonnement en « {state} ».", "{actor} ändrade tillståndet för en prenumeration till {state}.", "{actor}将一个订阅的状态更改为“{state}”。"},
		{"{actor} changed the state of a subscription.", "{actor} a changé l'état d'un abonnement.", "{actor} ändrade tillståndet för en prenumeration.", "{actor}更改了一个订阅的状态。"},
	},
	commercev1.Event_SUBSCRIPTION_TAKEN_OVER: {
		{"{actor} took over {item} and moved its users to {target}.", "{actor} a repris {item} et déplacé ses utilisateurs vers {target}.", "{actor} tog över {item} och flyttade dess användare till {target}.", "{actor}接管了 {item}，并将其用户移至 {target}。"},
		{"{actor} took over {item}.", "{actor} a repris {item}.", "{actor} tog över {item}.", "{actor}接管了 {item}。"},
		{"{actor} took over a subscription.", "{actor} a repris un abonnement.", "{actor} tog över en prenumeration.", "{actor}接管了一个订阅。"},
	},
	commercev1.Event_AUTO_RENEW_CHANGED: {
		{"{actor} turned automatic renewal {onoff} for {item}.", "{actor} a {onoff} le renouvellement automatique de {item}.", "{actor} {onoff} automatisk förnyelse för {item}.", "{actor}{onoff}了 {item} 的自动续订。"},
		{"{actor} changed automatic renewal of {item}.", "{actor} a modifié le renouvellement automatique de {item}.", "{actor} ändrade automatisk förnyelse för {item}.", "{actor}更改了 {item} 的自动续订设置。"},
		{"{actor} turned automatic renewal {onoff} for a subscription.", "{actor} a {onoff} le renouvellement automatique d'un abonnement.", "{actor} {onoff} automatisk förnyelse för en prenumeration.", "{actor}{onoff}了一个订阅的自动续订。"},
		{"{actor} changed automatic renewal of a subscription.", "{actor} a modifié le renouvellement automatique d'un abonnement.", "{actor} ändrade automatisk förnyelse för en prenumeration.", "{actor}更改了一个订阅的自动续订设置。"},
	},
	commercev1.Event_PAYMENT_METHOD_ADDED: {
		{"{actor} added {card}.", "{actor} a ajouté {card}.", "{actor} lade till {card}.", "{actor}添加了{card}。"},
		{"{actor} added the payment method {item}.", "{actor} a ajouté le mode de paiement {item}.", "{actor} lade till betalningsmetoden {item}.", "{actor}添加了付款方式 {item}。"},
		{"{actor} added a payment method.", "{actor} a ajouté un mode de paiement.", "{actor} lade till en betalningsmetod.", "{actor}添加了一种付款方式。"},
	},
	commercev1.Event_PAYMENT_METHOD_UPDATED: {
		{"{actor} updated {card}.", "{actor} a modifié {card}.", "{actor} uppdaterade {card}.", "{actor}更新了{card}。"},
		{"{actor} updated the payment method {item}.", "{actor} a modifié le mode de paiement {item}.", "{actor} uppdaterade betalningsmetoden {item}.", "{actor}更新了付款方式 {item}。"},
		{"{actor} updated a payment method.", "{actor} a modifié un mode de paiement.", "{actor} uppdaterade en betalningsmetod.", "{actor}更新了一种付款方式。"},
	},
	commercev1.Event_PAYMENT_METHOD_DELETED: {
		{"{actor} removed {card}.", "{actor} a supprimé {card}.", "{actor} tog bort {card}.", "{actor}删除了{card}。"},
		{"{actor} removed the payment method {item}.", "{actor} a supprimé le mode de paiement {item}.", "{actor} tog bort betalningsmetoden {item}.", "{actor}删除了付款方式 {item}。"},
		{"{actor} removed a payment method.", "{actor} a supprimé un mode de paiement.", "{actor} tog bort en betalningsmetod.", "{actor}删除了一种付款方式。"},
	},
	commercev1.Event_BILLING_PROFILE_UPDATED: {
		{"{actor} updated the billing profile {item}.", "{actor} a modifié le profil de facturation {item}.", "{actor} uppdaterade faktureringsprofilen {item}.", "{actor}更新了账单配置文件 {item}。"},
		{"{actor} updated a billing profile.", "{actor} a modifié un profil de facturation.", "{actor} uppdaterade en faktureringsprofil.", "{actor}更新了一个账单配置文件。"},
	},
	commercev1.Event_POLICY_CHANGED: {
		{"{actor} set the self-service policy of {item} to {policy}.", "{actor} a défini la stratégie libre-service de {item} sur « {policy} ».", "{actor} ställde in självbetjäningsprincipen för {item} på {policy}.", "{actor}将 {item} 的自助服务策略设置为“{policy}”。"},
		{"{actor} changed the self-service policy of {item}.", "{actor} a modifié la stratégie libre-service de {item}.", "{actor} ändrade självbetjäningsprincipen för {item}.", "{actor}更改了 {item} 的自助服务策略。"},
		{"{actor} set a self-service policy to {policy}.", "{actor} a défini une stratégie libre-service sur « {policy} ».", "{actor} ställde in en självbetjäningsprincip på {policy}.", "{actor}将一项自助服务策略设置为“{policy}”。"},
		{"{actor} changed a self-service policy.", "{actor} a modifié une stratégie libre-service.", "{actor} ändrade en självbetjäningsprincip.", "{actor}更改了一项自助服务策略。"},
	},
	commercev1.Event_PAYMENT_FAILED: {
		{"{actor} tried to charge {card} for {item}, and the payment failed.", "{actor} a tenté de débiter {card} pour {item}, mais le paiement a échoué.", "{actor} försökte debitera {card} för {item}, men betalningen misslyckades.", "{actor}尝试从{card}为 {item} 扣款，但付款失败。"},
		{"{actor} tried to collect a payment for {item}, and it failed.", "{actor} a tenté d'encaisser un paiement pour {item}, mais il a échoué.", "{actor} försökte ta betalt för {item}, men betalningen misslyckades.", "{actor}尝试为 {item} 扣款，但付款失败。"},
		{"{actor} tried to collect a payment, and it failed.", "{actor} a tenté d'encaisser un paiement, mais il a échoué.", "{actor} försökte ta betalt, men betalningen misslyckades.", "{actor}尝试扣款，但付款失败。"},
	},
}

// defaultPolicySentences tell of a change to the organization's default
// policy, which names no product.
var defaultPolicySentences = []sentence{
	{"{actor} set the default self-service policy to {policy}.", "{actor} a défini la stratégie libre-service par défaut sur « {policy} ».", "{actor} ställde in standardprincipen för självbetjäning på {policy}.", "{actor}将默认自助服务策略设置为“{policy}”。"},
	{"{actor} changed the default self-service policy.", "{actor} a modifié la stratégie libre-service par défaut.", "{actor} ändrade standardprincipen för självbetjäning.", "{actor}更改了默认自助服务策略。"},
}

// Words that stand for metadata values, in the order of sentence. A value
// not listed is shown as it came.
var (
	systemActor = [4]string{"The system", "Le système", "Systemet", "系统"}

	reasons = map[string][4]string{
		"NO_LONGER_NEEDED": {"no longer needed", "plus nécessaire", "behövs inte längre", "不再需要"},
		"TOO_EXPENSIVE":    {"too expensive", "trop cher", "för dyr", "太贵"},
		"MISSING_FEATURES": {"missing features", "fonctionnalités manquantes", "saknade funktioner", "缺少功能"},
		"SWITCHED_SERVICE": {"switched to another service", "passage à un autre service", "bytte till en annan tjänst", "改用其他服务"},
		"TOO_COMPLEX":      {"too complex", "trop complexe", "för komplicerad", "太复杂"},
		"LOW_QUALITY":      {"low quality", "qualité insuffisante", "låg kvalitet", "质量不佳"},
		"CUSTOMER_SERVICE": {"customer service", "service client", "kundtjänst", "客户服务"},
		"OTHER":            {"other", "autre", "annat", "其他"},
	}
	states = map[string][4]string{
		"ACTIVE":   {"active", "actif", "aktiv", "活动"},
		"EXPIRED":  {"expired", "expiré", "utgången", "已过期"},
		"DISABLED": {"disabled", "désactivé", "inaktiverad", "已禁用"},
		"DELETED":  {"deleted", "supprimé", "borttagen", "已删除"},
	}
	policies = map[string][4]string{
		"ENABLED":                            {"enabled", "activée", "aktiverad", "启用"},
		"ONLY_TRIALS_WITHOUT_PAYMENT_METHOD": {"only trials without a payment method", "essais sans mode de paiement uniquement", "endast provperioder utan betalningsmetod", "仅限无需付款方式的试用"},
		"DISABLED":                           {"disabled", "désactivée", "inaktiverad", "禁用"},
	}
	onOff = map[string][4]string{
		"true":  {"on", "activé", "aktiverade", "开启"},
		"false": {"off", "désactivé", "inaktiverade", "关闭"},
	}
	brands = map[string][4]string{
		"VISA":             {"Visa", "Visa", "Visa", "Visa"},
		"MASTERCARD":       {"Mastercard", "Mastercard", "Mastercard", "Mastercard"},
		"AMERICAN_EXPRESS": {"American Express", "American Express", "American Express", "American Express"},
		"DISCOVER":         {"Discover", "Discover", "Discover", "Discover"},
		"JCB":              {"JCB", "JCB", "JCB", "JCB"},
		"DINERS_CLUB":      {"Diners Club", "Diners Club", "Diners Club", "Diners Club"},
		"UNIONPAY":         {"UnionPay", "UnionPay", "UnionPay", "银联"},
		"MAESTRO":          {"Maestro", "Maestro", "Maestro", "Maestro"},
	}

	// A card: by brand and last digits, by brand only, by last digits only.
	cardBoth  = [4]string{"the {brand} card ending in {last4}", "la carte {brand} se terminant par {last4}", "{brand}-kortet som slutar på {last4}", "尾号为 {last4} 的 {brand} 卡"}
	cardBrand = [4]string{"the {brand} card", "la carte {brand}", "{brand}-kortet", "{brand} 卡"}
	cardLast4 = [4]string{"the card ending in {last4}", "la carte se terminant par {last4}", "kortet som slutar på {last4}", "尾号为 {last4} 的卡"}
	alipay    = [4]string{"the Alipay account", "le compte Alipay", "Alipay-kontot", "支付宝账户"}
	invoice   = [4]string{"payment by invoice", "le paiement sur facture", "betalning mot faktura", "发票付款"}

	listSep = [4]string{", ", ", ", ", ", "、"}
)

// messages is the message catalog every text above is read from.
var messages = func() *locale.Catalog {
	c := locale.NewCatalog("audit")
	for typ, variants := range sentences {
		for k, s := range variants {
			c.Set(sentenceKey(typ.String(), k), s)
		}
	}
	for k, s := range defaultPolicySentences {
		c.Set(sentenceKey("default policy", k), s)
	}
	for kind, words := range map[string]map[string][4]string{"reason": reasons, "state": states, "policy": policies, "onoff": onOff, "brand": brands} {
		for value, w := range words {
			c.Set(kind+" "+value, w)
		}
	}
	c.Set("system", systemActor)
	c.Set("card both", cardBoth)
	c.Set("card brand", cardBrand)
	c.Set("card last4", cardLast4)
	c.Set("alipay", alipay)
	c.Set("invoice", invoice)
	c.Set("list separator", listSep)
	c.SetMessages("licenses", [4]catalog.Message{
		locale.Plural(1, "%d license", "%d licenses"),
		locale.Plural(1, "%d licence", "%d licences"),
		locale.Plural(1, "%d licens", "%d licenser"),
		catalog.String("%d 个许可证"), // Chinese has no plural forms
	})
	return c
}()

func sentenceKey(kind string, variant int) string {
	return "event " + kind + " " + strconv.Itoa(variant)
}

// msg is a catalog text in language i of locale.Supported.
func msg(i int, key string) string { return messages.Sprintf(locale.Supported[i], key) }

// Names names, in a reader's language, the people, products and
// subscriptions events refer to by resource name. Each answers "" for what it
// does not know; a nil func knows nothing.
type Names struct {
	// User is the display name of organizations/{org}/users/{user}.
	User func(user string) string
	// Product is the display name of products/{product}.
	Product func(product string, lang language.Tag) string
	// Subscription is the display name of the product of
	// organizations/{org}/subscriptions/{subscription}.
	Subscription func(subscription string, lang language.Tag) string
}

func (n Names) user(name string) string {
	if n.User == nil || name == "" {
		return ""
	}
	return strings.TrimSpace(n.User(name))
}

func (n Names) product(name string, lang language.Tag) string {
	if n.Product == nil || name == "" {
		return ""
	}
	return strings.TrimSpace(n.Product(name, lang))
}

func (n Names) subscription(name string, lang language.Tag) string {
	if n.Subscription == nil || name == "" {
		return ""
	}
	return strings.TrimSpace(n.Subscription(name, lang))
}

// Describe writes the sentence that tells a reader in lang (one of
// locale.Supported; others are matched to one) what an event was, filled in
// from its metadata as far as it goes.
func Describe(e *commercev1.Event, lang language.Tag) string {
	return DescribeNamed(e, lang, Names{})
}

// DescribeNamed is Describe naming people, products and subscriptions by
// their display names: those the event carries, else those names gives.
// Whoever has no known display name is named by id alone (a user's id, a
// product's id), never a resource name next to a name.
func DescribeNamed(e *commercev1.Event, lang language.Tag, names Names) string {
	i := langIndex(lang)
	values := fill(e, i, names)
	kind, n := e.GetType().String(), len(sentences[e.GetType()])
	if n == 0 {
		kind, n = commercev1.Event_TYPE_UNSPECIFIED.String(), len(sentences[commercev1.Event_TYPE_UNSPECIFIED])
	}
	if e.GetType() == commercev1.Event_POLICY_CHANGED && e.GetMetadata()["scope"] == "default" {
		kind, n = "default policy", len(defaultPolicySentences)
	}
	for k := range n {
		if text, ok := render(msg(i, sentenceKey(kind, k)), values); ok {
			return text
		}
	}
	return msg(i, "system") // not reached: the last variant needs only {actor}
}

func langIndex(lang language.Tag) int { return locale.Index(locale.Match(lang.String())) }

// fill gives the placeholder values an event has; absent ones are left out.
func fill(e *commercev1.Event, i int, known Names) map[string]string {
	md := e.GetMetadata()
	lang := locale.Supported[i]
	v := map[string]string{"actor": actor(e, i, known)}
	set := func(k, s string) {
		if s = strings.TrimSpace(s); s != "" {
			v[k] = s
		}
	}
	// The product says more to a reader than a resource name: the catalog's
	// name in the reader's language, the one the event recorded, the name of
	// the subscription's product, the product's id; else the id of the
	// resource the event happened to.
	product := strings.TrimSpace(md[MetaProduct])
	sub := strings.TrimSpace(md[MetaSubscription])
	for _, s := range []string{known.product(product, lang), md[MetaProductDisplayName], known.subscription(sub, lang),
		known.subscription(e.GetResource(), lang), productID(product), resourceID(e.GetResource())} {
		if _, ok := v["item"]; !ok {
			set("item", s)
		}
	}
	users := userList(md[MetaUsers], md[MetaUserDisplayNames], known)
	set("users", strings.Join(users, msg(i, "list separator")))
	if n, err := strconv.Atoi(strings.TrimSpace(md[MetaCount])); err == nil && n >= 0 {
		set("licenses", licenses(n, i))
	} else if len(users) > 0 {
		set("licenses", licenses(len(users), i))
	}
	set("from", md[MetaFrom])
	set("to", md[MetaTo])
	set("reason", word("reason", md[MetaReason], i))
	set("state", word("state", md[MetaState], i))
	set("policy", word("policy", md[MetaPolicy], i))
	if key := "onoff " + strings.ToLower(strings.TrimSpace(md[MetaAutoRenew])); messages.Has(key) {
		set("onoff", msg(i, key))
	}
	target := strings.TrimSpace(md[MetaTarget])
	if name := known.subscription(target, lang); name != "" {
		set("target", name)
	} else {
		set("target", resourceID(target))
	}
	set("card", card(md[MetaBrand], md[MetaLast4], i))
	return v
}

// resourceID is the last id of a resource name (a subscription's, a billing
// profile's): what the feed shows of a resource it knows no name of.
func resourceID(name string) string {
	return name[strings.LastIndexByte(name, '/')+1:]
}

// productID is the id of products/{product}; any other value as it came (a
// source may have recorded a display name).
func productID(s string) string {
	id := s
	names.Scan(s, ProductPattern, &id)
	return id
}

// licenses is "n licenses" in language i, in the plural form its rules
// give n (French counts 0 and 1 as singular).
func licenses(n, i int) string { return messages.Sprintf(locale.Supported[i], "licenses", n) }

// actor is who did it: the display name the event carries, else the one
// known, else the user's id, else the system.
func actor(e *commercev1.Event, i int, known Names) string {
	if d := strings.TrimSpace(e.GetActorDisplayName()); d != "" {
		return d
	}
	if d := known.user(e.GetActor()); d != "" {
		return d
	}
	var org, id string
	if names.Scan(e.GetActor(), UserPattern, &org, &id) {
		return id
	}
	return msg(i, "system")
}

// userList reads a comma-separated list of user names, showing each by its
// display name: the one recorded beside it (displayNames, a JSON array in the
// same order), else the one known, else its id alone.
func userList(s, displayNames string, known Names) []string {
	var recorded []string
	if displayNames != "" {
		_ = json.Unmarshal([]byte(displayNames), &recorded) // unreadable: none recorded
	}
	var out []string
	n := 0
	for _, u := range strings.Split(s, ",") {
		u = strings.TrimSpace(u)
		if u == "" {
			continue
		}
		name := ""
		if n < len(recorded) {
			name = strings.TrimSpace(recorded[n])
		}
		n++
		if name == "" {
			name = known.user(u)
		}
		if name == "" {
			var org string
			name = u
			names.Scan(u, UserPattern, &org, &name)
		}
		out = append(out, name)
	}
	return out
}

func card(brand, last4 string, i int) string {
	brand, last4 = strings.TrimSpace(brand), strings.TrimSpace(last4)
	switch strings.ToUpper(brand) {
	case "ALIPAY":
		return msg(i, "alipay")
	case "INVOICE":
		return msg(i, "invoice")
	case "", "OTHER", "BRAND_UNSPECIFIED":
		brand = ""
	default:
		brand = word("brand", strings.ToUpper(brand), i)
	}
	r := strings.NewReplacer("{brand}", brand, "{last4}", last4)
	switch {
	case brand != "" && last4 != "":
		return r.Replace(msg(i, "card both"))
	case brand != "":
		return r.Replace(msg(i, "card brand"))
	case last4 != "":
		return r.Replace(msg(i, "card last4"))
	}
	return ""
}

// word is the word of kind (reason, state, policy, onoff, brand) for value,
// else value as it came.
func word(kind, value string, i int) string {
	value = strings.TrimSpace(value)
	if key := kind + " " + value; messages.Has(key) {
		return msg(i, key)
	}
	return value
}

// render fills text's placeholders; false when one has no value.
func render(text string, values map[string]string) (string, bool) {
	var b strings.Builder
	for {
		open := strings.IndexByte(text, '{')
		if open < 0 {
			b.WriteString(text)
			return b.String(), true
		}
		end := strings.IndexByte(text[open:], '}')
		if end < 0 {
			b.WriteString(text)
			return b.String(), true
		}
		v, ok := values[text[open+1:open+end]]
		if !ok {
			return "", false
		}
		b.WriteString(text[:open])
		b.WriteString(v)
		text = text[open+end+1:]
	}
}
