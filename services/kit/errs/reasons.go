package errs

import (
	"fmt"

	"golang.org/x/text/language"
	"google.golang.org/grpc/codes"

	"github.com/selfserve/selfserve/services/kit/contract"
	"github.com/selfserve/selfserve/services/kit/locale"
)

// The reasons of API.md §5, then the general ones every service raises.
var (
	TooManyUsers              = Reason{"TOO_MANY_USERS", codes.InvalidArgument}
	UserNotInOrganization     = Reason{"USER_NOT_IN_ORGANIZATION", codes.FailedPrecondition}
	GuestUser                 = Reason{"GUEST_USER", codes.FailedPrecondition}
	NotEnoughLicenses         = Reason{"NOT_ENOUGH_LICENSES", codes.FailedPrecondition}
	BelowAssignedLicenses     = Reason{"BELOW_ASSIGNED_LICENSES", codes.FailedPrecondition}
	SubscriptionNotActive     = Reason{"SUBSCRIPTION_NOT_ACTIVE", codes.FailedPrecondition}
	SelfServiceDisabled       = Reason{"SELF_SERVICE_DISABLED", codes.PermissionDenied}
	TrialAlreadyUsed          = Reason{"TRIAL_ALREADY_USED", codes.FailedPrecondition}
	TrialExtensionNotAllowed  = Reason{"TRIAL_EXTENSION_NOT_ALLOWED", codes.FailedPrecondition}
	AdminReadOnly             = Reason{"ADMIN_READ_ONLY", codes.PermissionDenied}
	PaymentDeclined           = Reason{"PAYMENT_DECLINED", codes.FailedPrecondition}
	InvalidCard               = Reason{"INVALID_CARD", codes.InvalidArgument}
	SecurityCodeRequired      = Reason{"SECURITY_CODE_REQUIRED", codes.InvalidArgument}
	PaymentMethodInUse        = Reason{"PAYMENT_METHOD_IN_USE", codes.FailedPrecondition}
	PaymentMethodNotSupported = Reason{"PAYMENT_METHOD_NOT_SUPPORTED", codes.FailedPrecondition}
	RequestIDReused           = Reason{"REQUEST_ID_REUSED", codes.InvalidArgument}

	InvalidField       = Reason{"INVALID_FIELD", codes.InvalidArgument}
	InvalidJSON        = Reason{"INVALID_JSON", codes.InvalidArgument}
	InvalidName        = Reason{"INVALID_RESOURCE_NAME", codes.InvalidArgument}
	InvalidPageToken   = Reason{"INVALID_PAGE_TOKEN", codes.InvalidArgument}
	InvalidRequestID   = Reason{"INVALID_REQUEST_ID", codes.InvalidArgument}
	ResourceNotFound   = Reason{"RESOURCE_NOT_FOUND", codes.NotFound}
	ResourceExists     = Reason{"RESOURCE_ALREADY_EXISTS", codes.AlreadyExists}
	PermissionDenied   = Reason{"PERMISSION_DENIED", codes.PermissionDenied}
	TokenMissing       = Reason{"TOKEN_MISSING", codes.Unauthenticated}
	TokenInvalid       = Reason{"TOKEN_INVALID", codes.Unauthenticated}
	TokenExpired       = Reason{"TOKEN_EXPIRED", codes.Unauthenticated}
	ClockNotManual     = Reason{"CLOCK_NOT_MANUAL", codes.FailedPrecondition}
	NotImplemented     = Reason{"NOT_IMPLEMENTED", codes.Unimplemented}
	Unavailable        = Reason{"SERVICE_UNAVAILABLE", codes.Unavailable}
	Internal           = Reason{"INTERNAL", codes.Internal}
	Canceled           = Reason{"CANCELLED", codes.Canceled}
	DeadlineExceeded   = Reason{"DEADLINE_EXCEEDED", codes.DeadlineExceeded}
	ResourceExhausted  = Reason{"RESOURCE_EXHAUSTED", codes.ResourceExhausted}
	RateLimited        = Reason{"RATE_LIMITED", codes.ResourceExhausted}
	FailedPrecondition = Reason{"FAILED_PRECONDITION", codes.FailedPrecondition}
	Aborted            = Reason{"ABORTED", codes.Aborted}
	Unknown            = Reason{"UNKNOWN", codes.Unknown}
	RouteNotFound      = Reason{"ROUTE_NOT_FOUND", codes.NotFound}
	RequestDecided     = Reason{"LICENSE_REQUEST_DECIDED", codes.FailedPrecondition}
	ProductMismatch    = Reason{"PRODUCT_MISMATCH", codes.FailedPrecondition}
	// Commerce.
	ProductNotAvailable   = Reason{"PRODUCT_NOT_AVAILABLE", codes.FailedPrecondition}
	NotATrial             = Reason{"NOT_A_TRIAL", codes.FailedPrecondition}
	PaymentMethodRequired = Reason{"PAYMENT_METHOD_REQUIRED", codes.FailedPrecondition}
	NotReactivatable      = Reason{"SUBSCRIPTION_NOT_REACTIVATABLE", codes.FailedPrecondition}
	// Billing.
	FapiaoNotAvailable = Reason{"FAPIAO_NOT_AVAILABLE", codes.FailedPrecondition}
	MethodNotAllowed   = Reason{"METHOD_NOT_ALLOWED", codes.Unimplemented}
)

// ReadOnlyForAdmins refuses an admin's change of a self-service
// subscription or its licenses (API.md §4: admins see every self-service
// subscription but change none until they take it over); key and name
// tell which resource ("subscription" or "license", and its name).
func ReadOnlyForAdmins(key, name string) *Error {
	return New(AdminReadOnly, "admins can only view a self-service subscription until they take it over").With(key, name)
}

// messages holds, for every reason, its message in en, fr, sv and zh-CN, in
// that order. A test checks that none is missing.
var messages = map[Reason][4]string{
	TooManyUsers: {
		fmt.Sprintf("At most %d users can be handled in one request.", contract.MaxUsersPerCall),
		fmt.Sprintf("Une requête peut traiter au plus %d utilisateurs.", contract.MaxUsersPerCall),
		fmt.Sprintf("Högst %d användare kan hanteras i en begäran.", contract.MaxUsersPerCall),
		fmt.Sprintf("一次请求最多可处理 %d 个用户。", contract.MaxUsersPerCall),
	},
	UserNotInOrganization: {
		"The user is not in this organization.",
		"L'utilisateur ne fait pas partie de cette organisation.",
		"Användaren finns inte i den här organisationen.",
		"该用户不属于此组织。",
	},
	GuestUser: {
		"Guest users cannot do this.",
		"Les utilisateurs invités ne peuvent pas effectuer cette action.",
		"Gästanvändare kan inte göra detta.",
		"来宾用户无法执行此操作。",
	},
	NotEnoughLicenses: {
		"There are not enough available licenses.",
		"Il n'y a pas assez de licences disponibles.",
		"Det finns inte tillräckligt med lediga licenser.",
		"可用许可证不足。",
	},
	BelowAssignedLicenses: {
		"The number of licenses cannot be lower than the number assigned.",
		"Le nombre de licences ne peut pas être inférieur au nombre attribué.",
		"Antalet licenser kan inte vara lägre än antalet tilldelade.",
		"许可证数量不能低于已分配的数量。",
	},
	SubscriptionNotActive: {
		"The subscription is not active.",
		"L'abonnement n'est pas actif.",
		"Prenumerationen är inte aktiv.",
		"该订阅未处于活动状态。",
	},
	SelfServiceDisabled: {
		"Your organization does not allow this purchase. You can request a license from your admin.",
		"Votre organisation n'autorise pas cet achat. Vous pouvez demander une licence à votre administrateur.",
		"Din organisation tillåter inte detta köp. Du kan begära en licens från din administratör.",
		"你的组织不允许此次购买。你可以向管理员申请许可证。",
	},
	TrialAlreadyUsed: {
		"Your organization has already used the trial of this product.",
		"Votre organisation a déjà utilisé l'essai de ce produit.",
		"Din organisation har redan använt provperioden för den här produkten.",
		"你的组织已使用过此产品的试用版。",
	},
	TrialExtensionNotAllowed: {
		"This trial cannot be extended now.",
		"Cet essai ne peut pas être prolongé maintenant.",
		"Den här provperioden kan inte förlängas nu.",
		"此试用版现在无法延期。",
	},
	AdminReadOnly: {
		"Admins can only view this self-service subscription until they take it over.",
		"Les administrateurs ne peuvent que consulter cet abonnement en libre-service tant qu'ils ne l'ont pas repris.",
		"Administratörer kan bara visa den här självbetjäningsprenumerationen tills de tar över den.",
		"在接管之前，管理员只能查看此自助服务订阅。",
	},
	PaymentDeclined: {
		"The payment was declined.",
		"Le paiement a été refusé.",
		"Betalningen nekades.",
		"付款被拒绝。",
	},
	InvalidCard: {
		"The card details are not valid.",
		"Les informations de la carte ne sont pas valides.",
		"Kortuppgifterna är inte giltiga.",
		"卡信息无效。",
	},
	SecurityCodeRequired: {
		"Enter the card's security code to change it.",
		"Saisissez le code de sécurité de la carte pour la modifier.",
		"Ange kortets säkerhetskod för att ändra det.",
		"请输入卡的安全码以进行更改。",
	},
	PaymentMethodInUse: {
		"The payment method is in use and cannot be deleted.",
		"Le mode de paiement est utilisé et ne peut pas être supprimé.",
		"Betalningsmetoden används och kan inte tas bort.",
		"该付款方式正在使用中，无法删除。",
	},
	PaymentMethodNotSupported: {
		"This payment method is not supported here.",
		"Ce mode de paiement n'est pas pris en charge ici.",
		"Den här betalningsmetoden stöds inte här.",
		"此处不支持该付款方式。",
	},
	RequestIDReused: {
		"This request ID was already used for a different request.",
		"Cet identifiant de requête a déjà été utilisé pour une autre requête.",
		"Det här begärande-ID:t har redan använts för en annan begäran.",
		"此请求 ID 已用于其他请求。",
	},
	InvalidField: {
		"A field of the request is not valid.",
		"Un champ de la requête n'est pas valide.",
		"Ett fält i begäran är inte giltigt.",
		"请求中的某个字段无效。",
	},
	InvalidJSON: {
		"The request body is not valid JSON.",
		"Le corps de la requête n'est pas du JSON valide.",
		"Begärans innehåll är inte giltig JSON.",
		"请求正文不是有效的 JSON。",
	},
	InvalidName: {
		"The resource name is not valid.",
		"Le nom de la ressource n'est pas valide.",
		"Resursnamnet är inte giltigt.",
		"资源名称无效。",
	},
	InvalidPageToken: {
		"The page token is not valid for this request.",
		"Le jeton de page n'est pas valide pour cette requête.",
		"Sidtoken är inte giltig för den här begäran.",
		"页面令牌对此请求无效。",
	},
	InvalidRequestID: {
		"The request ID is not valid.",
		"L'identifiant de requête n'est pas valide.",
		"Begärande-ID:t är inte giltigt.",
		"请求 ID 无效。",
	},
	ResourceNotFound: {
		"The resource was not found.",
		"La ressource est introuvable.",
		"Resursen hittades inte.",
		"找不到该资源。",
	},
	ResourceExists: {
		"The resource already exists.",
		"La ressource existe déjà.",
		"Resursen finns redan.",
		"该资源已存在。",
	},
	PermissionDenied: {
		"You do not have permission to do this.",
		"Vous n'avez pas l'autorisation d'effectuer cette action.",
		"Du har inte behörighet att göra detta.",
		"你无权执行此操作。",
	},
	TokenMissing: {
		"Sign in: the request has no bearer token.",
		"Connectez-vous : la requête n'a pas de jeton d'accès.",
		"Logga in: begäran saknar åtkomsttoken.",
		"请登录：请求中没有持有者令牌。",
	},
	TokenInvalid: {
		"The bearer token is not valid.",
		"Le jeton d'accès n'est pas valide.",
		"Åtkomsttoken är inte giltig.",
		"持有者令牌无效。",
	},
	TokenExpired: {
		"The bearer token has expired. Sign in again.",
		"Le jeton d'accès a expiré. Reconnectez-vous.",
		"Åtkomsttoken har gått ut. Logga in igen.",
		"持有者令牌已过期。请重新登录。",
	},
	ClockNotManual: {
		"The clock can only be moved when it runs in manual mode.",
		"L'horloge ne peut être avancée qu'en mode manuel.",
		"Klockan kan bara flyttas i manuellt läge.",
		"只有在手动模式下才能调整时钟。",
	},
	NotImplemented: {
		"This operation is not available yet.",
		"Cette opération n'est pas encore disponible.",
		"Den här åtgärden är inte tillgänglig än.",
		"此操作尚不可用。",
	},
	Unavailable: {
		"The service is unavailable. Try again shortly.",
		"Le service n'est pas disponible. Réessayez dans un instant.",
		"Tjänsten är inte tillgänglig. Försök igen om en stund.",
		"服务不可用。请稍后重试。",
	},
	Internal: {
		"Something went wrong on our side.",
		"Une erreur s'est produite de notre côté.",
		"Något gick fel hos oss.",
		"我们这边出现了问题。",
	},
	Canceled: {
		"The request was cancelled.",
		"La requête a été annulée.",
		"Begäran avbröts.",
		"请求已取消。",
	},
	DeadlineExceeded: {
		"The request took too long.",
		"La requête a pris trop de temps.",
		"Begäran tog för lång tid.",
		"请求耗时过长。",
	},
	ResourceExhausted: {
		"The request is too large or too frequent.",
		"La requête est trop volumineuse ou trop fréquente.",
		"Begäran är för stor eller för frekvent.",
		"请求过大或过于频繁。",
	},
	RateLimited: {
		"Too many requests: wait a moment, then try again.",
		"Trop de requêtes : patientez un instant, puis réessayez.",
		"För många förfrågningar: vänta en stund och försök sedan igen.",
		"请求过于频繁：请稍候再试。",
	},
	FailedPrecondition: {
		"The request cannot be done in the current state.",
		"La requête ne peut pas être traitée dans l'état actuel.",
		"Begäran kan inte utföras i nuvarande tillstånd.",
		"当前状态下无法执行该请求。",
	},
	Aborted: {
		"The request conflicted with another. Try again.",
		"La requête est entrée en conflit avec une autre. Réessayez.",
		"Begäran krockade med en annan. Försök igen.",
		"该请求与另一个请求冲突。请重试。",
	},
	ProductNotAvailable: {
		"This product is not available for purchase here.",
		"Ce produit n'est pas disponible à l'achat ici.",
		"Den här produkten kan inte köpas här.",
		"此产品在此处不可购买。",
	},
	NotATrial: {
		"This subscription is not a trial.",
		"Cet abonnement n'est pas un essai.",
		"Den här prenumerationen är ingen provperiod.",
		"此订阅不是试用版。",
	},
	PaymentMethodRequired: {
		"Add a payment method to the billing profile first.",
		"Ajoutez d'abord un mode de paiement au profil de facturation.",
		"Lägg först till en betalningsmetod i faktureringsprofilen.",
		"请先向账单配置文件添加付款方式。",
	},
	NotReactivatable: {
		"Only an expired or disabled subscription can be reactivated.",
		"Seul un abonnement expiré ou désactivé peut être réactivé.",
		"Endast en utgången eller inaktiverad prenumeration kan återaktiveras.",
		"只有已过期或已禁用的订阅才能重新激活。",
	},
	FapiaoNotAvailable: {
		"A Fapiao is issued only for a paid invoice of the 21Vianet cloud.",
		"Un Fapiao n'est émis que pour une facture payée du cloud 21Vianet.",
		"En Fapiao utfärdas endast för en betald faktura i 21Vianet-molnet.",
		"仅可为世纪互联云中已付款的账单开具发票。",
	},
	RequestDecided: {
		"This license request has already been decided.",
		"Cette demande de licence a déjà été traitée.",
		"Den här licensbegäran har redan avgjorts.",
		"此许可证申请已处理。",
	},
	ProductMismatch: {
		"The subscription is for another product than the one requested.",
		"L'abonnement porte sur un autre produit que celui demandé.",
		"Prenumerationen gäller en annan produkt än den som begärdes.",
		"该订阅对应的产品与所申请的产品不同。",
	},
	RouteNotFound: {
		"There is no such route. See /openapi.json for the API.",
		"Cette route n'existe pas. Consultez /openapi.json pour l'API.",
		"Det finns ingen sådan väg. Se /openapi.json för API:et.",
		"不存在此路由。请参阅 /openapi.json 了解 API。",
	},
	MethodNotAllowed: {
		"This HTTP method is not allowed on this route.",
		"Cette méthode HTTP n'est pas autorisée sur cette route.",
		"Den här HTTP-metoden är inte tillåten för den här vägen.",
		"此路由不允许使用该 HTTP 方法。",
	},
	Unknown: {
		"An unknown error occurred.",
		"Une erreur inconnue s'est produite.",
		"Ett okänt fel inträffade.",
		"发生未知错误。",
	},
}

// Reasons lists every declared reason (for tests and documentation).
func Reasons() []Reason {
	out := make([]Reason, 0, len(messages))
	for r := range messages {
		out = append(out, r)
	}
	return out
}

// catalog holds the messages of every reason.
var catalog = func() *locale.Catalog {
	c := locale.NewCatalog("errs")
	for r, m := range messages {
		c.Set(r.Name, m)
	}
	return c
}()

// Localize gives a reason's message in lang (one of locale.Supported); a
// reason without messages gives its status code's.
func Localize(r Reason, lang language.Tag) string {
	if !catalog.Has(r.Name) {
		r = reasonForCode(r.Code)
	}
	return catalog.Sprintf(lang, r.Name)
}

// reasonForCode names a status that came without ErrorInfo.
func reasonForCode(c codes.Code) Reason {
	switch c {
	case codes.InvalidArgument, codes.OutOfRange:
		return InvalidField
	case codes.NotFound:
		return ResourceNotFound
	case codes.AlreadyExists:
		return ResourceExists
	case codes.PermissionDenied:
		return PermissionDenied
	case codes.Unauthenticated:
		return TokenInvalid
	case codes.Unimplemented:
		return NotImplemented
	case codes.Unavailable:
		return Unavailable
	case codes.Canceled:
		return Canceled
	case codes.DeadlineExceeded:
		return DeadlineExceeded
	case codes.ResourceExhausted:
		return ResourceExhausted
	case codes.FailedPrecondition:
		return FailedPrecondition
	case codes.Aborted:
		return Aborted
	case codes.Unknown:
		return Unknown
	default:
		return Internal
	}
}
