package catalog

import (
	licensingv1 "github.com/selfserve/selfserve/gen/go/selfserve/licensing/v1"
	"github.com/selfserve/selfserve/services/kit/locale"
)

// Clouds a product can be sold in.
var (
	everywhere = []licensingv1.Organization_Cloud{licensingv1.Organization_GLOBAL, licensingv1.Organization_CHINA_21VIANET}
	globalOnly = []licensingv1.Organization_Cloud{licensingv1.Organization_GLOBAL}
)

// seedProduct is a seeded product before its prices are worked out.
type seedProduct struct {
	id, sku  string
	usdCents int64 // monthly list price in US cents; 0 for trial-only
	trial    *Trial
	only     bool // trial-only
	clouds   []licensingv1.Organization_Cloud
	// names and descriptions in the order of locale.Supported: en, fr, sv, zh-CN.
	names, descriptions [4]string
}

func defaultTrial(requiresPaymentMethod bool) *Trial {
	return &Trial{Days: DefaultTrialDays, Licenses: DefaultTrialLicenses, RequiresPaymentMethod: requiresPaymentMethod}
}

var seedProducts = []seedProduct{
	{
		id: "workspace-basic", sku: "SELFSERVE_WORKSPACE_BASIC", usdCents: 600, clouds: everywhere,
		names: [4]string{"Selfserve Workspace Basic", "Selfserve Espace de travail Essentiel", "Selfserve Arbetsyta Bas", "Selfserve 工作区基础版"},
		descriptions: [4]string{
			"Mail, calendar and 1 TB of file storage for every member of your team.",
			"Messagerie, calendrier et 1 To de stockage de fichiers pour chaque membre de votre équipe.",
			"E-post, kalender och 1 TB fillagring för varje medlem i ditt team.",
			"为团队每位成员提供邮件、日历和 1 TB 文件存储。",
		},
	},
	{
		id: "workspace-standard", sku: "SELFSERVE_WORKSPACE_STANDARD", usdCents: 1250, clouds: everywhere, trial: defaultTrial(true),
		names: [4]string{"Selfserve Workspace Standard", "Selfserve Espace de travail Standard", "Selfserve Arbetsyta Standard", "Selfserve 工作区标准版"},
		descriptions: [4]string{
			"Everything in Basic, plus desktop editors for documents, sheets and slides.",
			"Tout le contenu d'Essentiel, plus les éditeurs de bureau pour documents, feuilles de calcul et présentations.",
			"Allt i Bas, plus skrivbordsredigerare för dokument, kalkylblad och presentationer.",
			"包含基础版的全部功能，另加文档、表格和演示文稿的桌面编辑器。",
		},
	},
	{
		id: "workspace-premium", sku: "SELFSERVE_WORKSPACE_PREMIUM", usdCents: 2200, clouds: everywhere, trial: defaultTrial(true),
		names: [4]string{"Selfserve Workspace Premium", "Selfserve Espace de travail Premium", "Selfserve Arbetsyta Premium", "Selfserve 工作区高级版"},
		descriptions: [4]string{
			"Everything in Standard, plus threat protection, device management and mail archiving.",
			"Tout le contenu de Standard, plus la protection contre les menaces, la gestion des appareils et l'archivage du courrier.",
			"Allt i Standard, plus skydd mot hot, enhetshantering och e-postarkivering.",
			"包含标准版的全部功能，另加威胁防护、设备管理和邮件存档。",
		},
	},
	{
		id: "sketchboard", sku: "SKETCHBOARD_DIAGRAMS", usdCents: 900, clouds: everywhere, trial: defaultTrial(false),
		names: [4]string{"Sketchboard Diagrams", "Sketchboard Diagrammes", "Sketchboard Diagram", "Sketchboard 绘图"},
		descriptions: [4]string{
			"Draw flowcharts, floor plans and network maps together, right in the browser.",
			"Dessinez ensemble organigrammes, plans d'étage et cartes réseau, directement dans le navigateur.",
			"Rita flödesscheman, planritningar och nätverkskartor tillsammans, direkt i webbläsaren.",
			"直接在浏览器中协作绘制流程图、平面图和网络拓扑图。",
		},
	},
	{
		id: "milestone-planner", sku: "MILESTONE_PLANNER", usdCents: 1000, clouds: everywhere,
		names: [4]string{"Milestone Project Planner", "Milestone Planificateur de projets", "Milestone Projektplanerare", "Milestone 项目规划器"},
		descriptions: [4]string{
			"Plan projects with timelines, dependencies and shared task boards.",
			"Planifiez vos projets avec des chronologies, des dépendances et des tableaux de tâches partagés.",
			"Planera projekt med tidslinjer, beroenden och delade uppgiftstavlor.",
			"通过时间线、依赖关系和共享任务看板来规划项目。",
		},
	},
	{
		id: "huddle-rooms", sku: "HUDDLE_ROOMS_ADDON", usdCents: 400, clouds: globalOnly,
		names: [4]string{"Huddle Rooms Meeting Add-on", "Huddle Rooms, module de réunions", "Huddle Rooms mötestillägg", "Huddle Rooms 会议附加组件"},
		descriptions: [4]string{
			"Webinars for up to 1,000 attendees, live captions and dial-in numbers for your meetings.",
			"Webinaires jusqu'à 1 000 participants, sous-titres en direct et numéros d'appel pour vos réunions.",
			"Webbinarier för upp till 1 000 deltagare, livetextning och inringningsnummer för dina möten.",
			"为你的会议提供最多 1,000 人参加的网络研讨会、实时字幕和电话拨入号码。",
		},
	},
	{
		id: "insight-lens-trial", sku: "INSIGHT_LENS_TRIAL", only: true, clouds: everywhere, trial: defaultTrial(false),
		names: [4]string{"Insight Lens Analytics (Trial)", "Insight Lens Analyse (essai)", "Insight Lens Analys (provversion)", "Insight Lens 分析（试用版）"},
		descriptions: [4]string{
			"Try self-service dashboards and reports on your team's data, free for 30 days.",
			"Essayez gratuitement pendant 30 jours les tableaux de bord et rapports en libre-service sur les données de votre équipe.",
			"Prova självbetjänade instrumentpaneler och rapporter över ditt teams data, gratis i 30 dagar.",
			"免费试用 30 天，基于团队数据自助创建仪表板和报表。",
		},
	},
	{
		id: "formwise", sku: "FORMWISE_SURVEYS", usdCents: 300, clouds: everywhere,
		names: [4]string{"Formwise Surveys", "Formwise Questionnaires", "Formwise Enkäter", "Formwise 问卷"},
		descriptions: [4]string{
			"Build forms, quizzes and polls, and watch the answers come in.",
			"Créez des formulaires, des quiz et des sondages, et suivez les réponses en direct.",
			"Skapa formulär, frågesporter och omröstningar och se svaren komma in.",
			"创建表单、测验和投票，实时查看收到的答复。",
		},
	},
}

// Seed is the catalog `selfserve dev` starts with: a workspace family, a
// diagramming tool, a project planner, a meetings add-on sold only in the
// global cloud, a survey tool and a trial-only analytics product. Among the
// trials, Sketchboard's and Insight Lens's need no payment method, the
// Workspace Standard and Premium ones do.
var Seed = mustBuild(seedProducts)

func mustBuild(specs []seedProduct) []Product {
	out := make([]Product, 0, len(specs))
	for _, s := range specs {
		p := Product{
			ID: s.id, SKU: s.sku, Trial: s.trial, TrialOnly: s.only, Clouds: s.clouds,
			Names: map[string]string{}, Descriptions: map[string]string{},
		}
		for i, lang := range locale.Supported {
			p.Names[locale.Code(lang)] = s.names[i]
			p.Descriptions[locale.Code(lang)] = s.descriptions[i]
		}
		if !s.only {
			prices, err := PriceList(s.usdCents)
			if err != nil {
				panic(err)
			}
			p.Prices = prices
		}
		if err := p.Validate(); err != nil {
			panic(err)
		}
		out = append(out, p)
	}
	return out
}
