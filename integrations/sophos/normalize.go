package sophos

import (
	"strings"

	"github.com/optix-bot/optix-bot/posture"
)

// hostView is what a finding learns from the inventory host its resource
// belongs to, computed once per host and shared (read-only) by every
// finding on it.
type hostView struct {
	provider  string
	name      string
	region    string
	tags      map[string]string
	public    bool
	publicIP  string
	openPorts []int
	viaGroup  bool // matched through a security group id, not the instance id
}

type resolveKey struct{ provider, rule, rtype, summary string }

// Normalize turns Optix alerts into findings: one per (alert, affected
// resource), never dropping one. Each resource is enriched from the
// inventory host with the same instance id, or the host its security group
// is attached to. cat nil means posture.DefaultCatalogue().
//
// Rules: state OPEN (or no state at all: the list holds live alerts) is
// open; SUPPRESSED, MUTED, IGNORED, SNOOZED, EXEMPTED are muted; any other
// state is resolved. Severity comes from the alert's severity word, else
// its score, else the check's own severity. The finding id uses the rule
// number instead of the check when the check is generic, so two unknown
// rules on one resource stay distinct.
//
// Findings share read-only data with the alerts and hosts (Raw, tag maps,
// port lists): callers must not modify them in place.
func Normalize(alerts []Alert, hosts []Host, cat *posture.Catalogue) []posture.Finding {
	if cat == nil {
		cat = posture.DefaultCatalogue()
	}
	index := make(map[string]*hostView, len(hosts)*2)
	views := make([]hostView, len(hosts))
	for i := range hosts {
		h := &hosts[i]
		v := &views[i]
		*v = hostView{
			provider:  posture.NormalizeProvider(h.AccountType),
			name:      h.MoreInfo.Name,
			region:    h.MoreInfo.Region,
			tags:      h.MoreInfo.Tags,
			public:    bool(h.MoreInfo.IsPublic) || h.MoreInfo.PublicIP != "",
			publicIP:  h.MoreInfo.PublicIP,
			openPorts: openPorts(h.MoreInfo.SecurityGroupList),
		}
		if h.InstanceID != "" {
			index[h.InstanceID] = v
		}
	}
	// Security groups second, so an instance id always wins; the first
	// host listing a group stands for it.
	for i := range hosts {
		for _, sg := range hosts[i].MoreInfo.SecurityGroupList {
			if sg.GroupID == "" {
				continue
			}
			if _, ok := index[sg.GroupID]; !ok {
				g := views[i]
				g.viaGroup = true
				g.openPorts = openPorts([]SecurityGroup{sg})
				index[sg.GroupID] = &g
			}
		}
	}

	n := 0
	for i := range alerts {
		n += max(1, len(alerts[i].AffectedResources))
	}
	out := make([]posture.Finding, 0, n)
	checks := map[resolveKey]*posture.Check{}
	one := []AffectedResource{{}}

	for i := range alerts {
		a := &alerts[i]
		provider := posture.NormalizeProvider(a.Provider)
		res := a.AffectedResources
		if len(res) == 0 {
			// An account-level alert (say CloudTrail off) still counts.
			res = one
		}
		ids := []string{a.AlertID}
		first := a.FirstDetected.Time
		if first.IsZero() {
			first = a.CreatedAt.Time
		}
		last := a.LastDetected.Time
		if last.IsZero() {
			last = a.UpdatedAt.Time
		}
		sev := posture.ParseSeverity(a.Severity)
		if sev == posture.SeverityUnknown {
			sev = posture.SeverityFromOptixScore(int(a.Score))
		}
		for j := range res {
			r := &res[j]
			ri := &r.ResourceInfo
			id := ri.ID
			if id == "" {
				id = a.AccountID
			}
			hv := index[id]
			prov := provider
			if prov == "" && hv != nil {
				prov = hv.provider
			}
			if prov == "" {
				prov = providerFromRule(a.RuleNumber)
			}
			rtype := ri.Type
			if rtype == "" {
				rtype = a.ResourceType
			}
			k := resolveKey{prov, a.RuleNumber, rtype, a.AlertSummary}
			ch, ok := checks[k]
			if !ok {
				ch = cat.Resolve(prov, a.RuleNumber, rtype, a.AlertSummary)
				checks[k] = ch
			}
			checkOrRule := ch.ID
			if ch.ID == posture.GenericCheck && a.RuleNumber != "" {
				checkOrRule = a.RuleNumber
			}
			if rtype == "" {
				rtype = ch.ResourceType
			}
			fsev := sev
			if fsev == posture.SeverityUnknown {
				fsev = ch.Severity
			}
			title := a.AlertSummary
			if title == "" {
				title = ch.Title
			}
			state := r.State
			if state == "" {
				state = a.State
			}
			f := posture.Finding{
				ID:          posture.FindingID(prov, a.AccountID, checkOrRule, id),
				SourceIDs:   ids[:1:1],
				Source:      "optix",
				Rule:        a.RuleNumber,
				Check:       ch.ID,
				Title:       title,
				Provider:    prov,
				Account:     a.AccountID,
				Region:      firstOf(ri.Region, a.Region),
				Severity:    fsev,
				SourceScore: int(a.Score),
				Status:      status(state),
				FirstSeen:   first,
				LastSeen:    last,
				Raw:         a.Raw,
				Resource: posture.Resource{
					ID:     id,
					Name:   ri.Name,
					Type:   rtype,
					Region: ri.Region,
					Tags:   ri.Tags,
					Public: bool(ri.IsPublic),
				},
			}
			if hv != nil {
				enrich(&f.Resource, hv)
			}
			if f.Region == "" {
				f.Region = f.Resource.Region
			}
			out = append(out, f)
		}
	}
	return out
}

// enrich fills what the alert did not say from the inventory host.
func enrich(r *posture.Resource, h *hostView) {
	if r.Name == "" && !h.viaGroup {
		r.Name = h.name
	}
	if r.Region == "" {
		r.Region = h.region
	}
	if len(r.Tags) == 0 {
		r.Tags = h.tags
	}
	r.Public = r.Public || h.public
	if r.PublicIP == "" {
		r.PublicIP = h.publicIP
	}
	if len(r.OpenPorts) == 0 {
		r.OpenPorts = h.openPorts
	}
}

func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// status maps an Optix state word to a finding status.
func status(state string) posture.Status {
	switch strings.ToUpper(strings.TrimSpace(state)) {
	case "", "OPEN", "ACTIVE", "NEW", "REOPENED":
		return posture.StatusOpen
	case "SUPPRESSED", "MUTED", "IGNORED", "SNOOZED", "EXEMPTED", "SUPPRESS":
		return posture.StatusMuted
	}
	return posture.StatusResolved
}

// providerFromRule guesses the cloud from an Optix rule prefix when neither
// the alert nor the inventory says: AZ- rules are Azure's, GCP- Google's,
// AR- AWS's (the documented AR-251 and AR-651 are AWS rules).
func providerFromRule(rule string) string {
	r := strings.ToUpper(rule)
	switch {
	case strings.HasPrefix(r, "AZ-"):
		return "azure"
	case strings.HasPrefix(r, "GCP-"), strings.HasPrefix(r, "GC-"):
		return "gcp"
	case strings.HasPrefix(r, "AR-"):
		return "aws"
	}
	return ""
}

// maxListedPorts bounds how many ports of one range are listed one by one.
const maxListedPorts = 16

// openPorts lists the ports that inbound rules open to the whole internet
// (0.0.0.0/0 or ::/0), sorted and unique. A rule for every protocol or the
// whole range is listed as 0 (meaning all ports) plus 22 and 3389, so
// that an admin-port check sees them; a wide range lists its first port
// and any admin port inside it.
func openPorts(groups []SecurityGroup) []int {
	var ports []int
	add := func(p int) {
		for _, q := range ports {
			if q == p {
				return
			}
		}
		ports = append(ports, p)
	}
	for _, g := range groups {
		for _, rule := range g.InboundRules {
			if !worldOpen(rule) {
				continue
			}
			from, to := int(rule.FromPort), int(rule.ToPort)
			proto := strings.ToLower(rule.Protocol)
			if to < from {
				to = from
			}
			switch {
			case proto == "-1" || proto == "all" || proto == "*" || (from <= 1 && to >= 65535):
				add(0)
				add(22)
				add(3389)
			case to-from < maxListedPorts:
				for p := from; p <= to; p++ {
					add(p)
				}
			default:
				add(from)
				for _, admin := range []int{22, 3389} {
					if admin >= from && admin <= to {
						add(admin)
					}
				}
			}
		}
	}
	if len(ports) == 0 {
		return nil
	}
	// Insertion sort: a host has a handful of open ports.
	for i := 1; i < len(ports); i++ {
		for j := i; j > 0 && ports[j] < ports[j-1]; j-- {
			ports[j], ports[j-1] = ports[j-1], ports[j]
		}
	}
	return ports
}

func worldOpen(r SGRule) bool {
	if r.CIDR == "0.0.0.0/0" || r.CIDR == "::/0" || r.CIDR == "*" || strings.EqualFold(r.CIDR, "internet") {
		return true
	}
	for _, c := range r.IPRanges {
		if c == "0.0.0.0/0" || c == "::/0" {
			return true
		}
	}
	return false
}
