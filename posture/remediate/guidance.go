package remediate

import (
	"strings"

	"github.com/optix-bot/optix-bot/posture"
)

// Guidance returns manual steps, in our own words, for any check kind:
// the kind's own steps when a template covers it, else steps chosen by the
// check's categories and service. It never returns an empty list.
func Guidance(check *posture.Check) []string {
	if check == nil {
		return categoryGuidance(nil)
	}
	out := []string{problemStep(check)}
	if k, ok := kindByCheck[check.ID]; ok {
		out = append(out, k.steps...)
	} else {
		out = append(out, categoryGuidance(check)...)
	}
	return append(out, closingStep)
}

// problemStep names the failing check. Most catalogue titles are the
// check id's words and state the desired state ("RDS instance backup
// enabled"), a few are ours and state the problem ("S3 bucket readable by
// anyone"); nothing on Check says which, so the title is only ever quoted
// as the check's name, never put where the problem goes.
func problemStep(check *posture.Check) string {
	where := ""
	if check.Provider != "" || check.Service != "" {
		where = " (" + providerName(check.Provider) + serviceSuffix(check.Service) + ")"
	}
	if check.ID == posture.GenericCheck || check.ID == "" {
		return "The source reported a problem with this resource that matches no known check" + where + ": read the finding's own description first."
	}
	name := check.ID
	// The catalogue marks id-derived titles "(check failed)"; this
	// sentence says so already.
	if t := strings.TrimSpace(strings.TrimSuffix(check.Title, " (check failed)")); t != "" {
		name = "\"" + t + "\" (" + check.ID + ")"
	}
	return "The check " + name + " fails for this resource" + where + "."
}

const closingStep = "Afterwards, confirm the finding clears on the next pull; if the setting is intended, record why with the resource owner rather than leaving the finding open unexplained."

func providerName(p string) string {
	switch p {
	case "aws":
		return "AWS"
	case "azure":
		return "Azure"
	case "gcp":
		return "Google Cloud"
	case "kubernetes":
		return "Kubernetes"
	case "":
		return "the cloud provider"
	}
	return p
}

func serviceSuffix(s string) string {
	if s == "" {
		return ""
	}
	return ", service " + s
}

// categorySteps are the steps for a check category, most specific first
// in categoryOrder. The categories are Prowler's (see
// ../shared/data/prowler/checks/*/*.metadata.json Categories) plus our own
// "governance".
var categorySteps = map[string][]string{
	"internet-exposed": {
		"Find out whether the resource really has to be reachable from the internet, and by whom.",
		"Remove the public grant or the 0.0.0.0/0 rule; allow only the known ranges or principals that need it.",
		"Put access behind a private path (VPN, bastion, private endpoint, CDN with origin access) where possible.",
	},
	"encryption": {
		"Turn on encryption at rest (or in transit, if the check is about transport) with the provider's managed key or a customer-managed key.",
		"Where the setting cannot change in place, create an encrypted copy and cut over in a maintenance window.",
		"Make encryption the default for new resources of this kind, so it does not come back.",
	},
	"privilege-escalation": {
		"List which principals hold the policy and what they actually use.",
		"Remove the actions that let a principal change its own permissions (policy versions, attachments, PassRole, access keys).",
	},
	"identity-access": {
		"Review who holds the permission or credential and what they really need.",
		"Replace broad grants with least-privilege ones; no \"*\" actions or principals.",
		"Require MFA and short-lived credentials for people; use roles for workloads.",
	},
	"secrets": {
		"Treat the exposed or ageing secret as compromised: rotate it first, then remove the old value.",
		"Move secrets to a secrets manager and reference them, instead of storing them in code, variables or tags.",
	},
	"logging": {
		"Turn on the logs the check asks for, delivered to a central, private, retained store.",
		"Make sure someone is alerted on the events that matter, not just that logs exist.",
	},
	"forensics-ready": {
		"Keep the logs long enough for an investigation, protected against deletion.",
	},
	"resilience": {
		"Turn on the protection the check names (versioning, backups, deletion protection, multi-zone).",
		"Test a restore once, so the protection is known to work.",
	},
	"trust-boundaries": {
		"Check which external accounts, tenants or services are trusted, and remove the ones nobody can justify.",
	},
	"vulnerabilities": {
		"Update the software, image or runtime to a supported, patched version.",
		"Turn on the provider's vulnerability scanning for this resource type.",
	},
	"threat-detection": {
		"Turn on the provider's threat detection service for this account and region, and route its findings to the team that responds.",
	},
	"container-security": {
		"Harden the container or cluster setting the check names; prefer the provider's secure default.",
	},
	"cluster-security": {
		"Harden the cluster setting the check names; restrict the control plane endpoint to known ranges.",
	},
	"node-security": {
		"Harden the node setting the check names and roll the node pool so every node picks it up.",
	},
	"ec2-imdsv1": {
		"Require IMDSv2 (session tokens) on the instance or launch template, after checking the software on it supports it.",
	},
	"gen-ai": {
		"Restrict who can invoke or change the AI resource, and log its use.",
	},
	"software-supply-chain": {
		"Pin and verify the artefacts and images the resource uses; allow only trusted registries.",
	},
	"ci-cd": {
		"Limit what the pipeline's credentials can do, and protect the branches and settings that trigger it.",
	},
	"email-security": {
		"Publish or tighten the email authentication records (SPF, DKIM, DMARC) the check names.",
	},
	"governance": {
		"Add the missing tags or metadata (owner, environment) so the resource can be attributed and reviewed.",
	},
}

var categoryOrder = []string{"privilege-escalation", "internet-exposed", "secrets", "encryption", "identity-access",
	"logging", "forensics-ready", "resilience", "trust-boundaries", "vulnerabilities", "threat-detection",
	"container-security", "cluster-security", "node-security", "ec2-imdsv1", "gen-ai", "software-supply-chain",
	"ci-cd", "email-security", "governance"}

// categoryGuidance picks steps for the check's categories (at most two
// categories, so the list stays short), or general steps when it has none.
func categoryGuidance(check *posture.Check) []string {
	var out []string
	used := 0
	if check != nil {
		for _, c := range categoryOrder {
			if used == 2 {
				break
			}
			if check.Has(c) {
				out = append(out, categorySteps[c]...)
				used++
			}
		}
	}
	if used == 0 {
		out = append(out,
			"Open the resource in the provider's console and compare the setting the check names with the secure value.",
			"Change it in the code or template that manages the resource (Terraform, CloudFormation, Bicep), not only in the console, so it does not drift back.")
		if check != nil && check.Service != "" {
			out = append(out, "The "+check.Service+" documentation for this setting describes the side effects of changing it; read them before you do.")
		}
	}
	return out
}
