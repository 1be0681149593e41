package handlers

import (
	"log/slog"
	"sort"
	"time"

	"github.com/optix-bot/optix-bot/bot"
	"github.com/optix-bot/optix-bot/bot/rbac"
	"github.com/optix-bot/optix-bot/integrations/llm/advisor"
	"github.com/optix-bot/optix-bot/store"
)

// Deps is everything the handlers need, built once by main.
type Deps struct {
	Estate     *Estate
	Store      *store.Store
	Policy     *rbac.Policy
	RequestTTL time.Duration
	// Advisor is the LLM layer; one without an LLM ranks by rules only and
	// says so. Conventions are the context file's, for tailoring scripts.
	Advisor     *advisor.Advisor
	Conventions map[string]string
	Now         func() time.Time
	Log         *slog.Logger
}

// Commands is the command table: every verb with its synopsis, help line
// and the role it needs. /optix help (added by the router) and the role
// check both read it.
func Commands(d Deps) []bot.Command {
	// Handlers use these without checking, so fill them once here.
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	cmds := []bot.Command{
		{Verb: "top-risks", Args: "[N] [provider=aws|azure|gcp] [account=ID] [env=production|staging|dev|sandbox] [min=critical|high|medium|low]",
			Summary: "The N (default 10, 1-50) riskiest findings and clusters, explained.", Role: bot.RoleViewer,
			Examples: []string{"/optix top-risks 5 env=production"},
			Run:      TopRisks{Estate: d.Estate, Advisor: d.Advisor, Log: d.Log}.Run},
		{Verb: "finding", Args: "<F-id | C-id>", Summary: "One finding with its risk factors, context, related findings and how to fix it.",
			Role: bot.RoleViewer, Run: Finding{Estate: d.Estate, Log: d.Log}.Run},
		{Verb: "clusters", Args: "[N] [filters as top-risks]", Summary: "The riskiest groups: one check repeated in an account and environment, and toxic combinations on one resource.",
			Role: bot.RoleViewer, Run: TopRisks{Estate: d.Estate, Log: d.Log, Clusters: true}.Run},
		{Verb: "fix", Args: "<F-id> [terraform|awscli|cloudformation|azcli|gcloud]",
			Summary: "Draft a vetted, linted remediation script as a change request with Approve and Reject buttons.",
			Role:    bot.RoleRequester,
			Run: Fix{Estate: d.Estate, Requests: d.Store, Policy: d.Policy, Advisor: d.Advisor, Conventions: d.Conventions,
				TTL: d.RequestTTL, Now: d.Now, Log: d.Log}.Run},
		{Verb: "approve", Args: "<request-id>", Summary: "Approve a change request (not your own).", Role: bot.RoleApprover,
			Run: Decide{Requests: d.Store, Policy: d.Policy, Now: d.Now, Log: d.Log}.Run},
		{Verb: "reject", Args: "<request-id> <reason>", Summary: "Reject a change request, with a reason.", Role: bot.RoleApprover,
			Run: Decide{Requests: d.Store, Policy: d.Policy, Now: d.Now, Log: d.Log, Reject: true}.Run},
		{Verb: "requests", Args: "[pending|mine|all]", Summary: "List change requests.", Role: bot.RoleViewer,
			Run: Requests{Requests: d.Store, Log: d.Log}.Run},
		{Verb: "audit", Args: "[request-id | last N]", Summary: "Show audit entries.", Role: bot.RoleViewer,
			Run: Audit{Store: d.Store, Log: d.Log}.Run},
	}
	return cmds
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
