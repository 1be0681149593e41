package importer

import (
	"encoding/json"
	"strings"

	"github.com/optix-bot/optix-bot/posture"
)

// ocsfFinding is the part of an OCSF Detection Finding (class 2004) that
// Prowler writes and optix-bot reads. Field names follow Prowler's OCSF
// output (see testdata/prowler-aws.ocsf.json).
type ocsfFinding struct {
	Message  string `json:"message"`
	Metadata struct {
		EventCode string `json:"event_code"`
	} `json:"metadata"`
	Severity    string           `json:"severity"`
	SeverityID  int              `json:"severity_id"`
	Status      string           `json:"status"`
	StatusID    int              `json:"status_id"`
	StatusCode  string           `json:"status_code"`
	Muted       bool             `json:"muted"`
	FindingInfo *ocsfFindingInfo `json:"finding_info"`
	Resources   []ocsfResource   `json:"resources"`
	Cloud       struct {
		Provider string `json:"provider"`
		Region   string `json:"region"`
		Account  struct {
			UID string `json:"uid"`
		} `json:"account"`
	} `json:"cloud"`
	Time   flexTime `json:"time"`
	TimeDT flexTime `json:"time_dt"`
}

type ocsfFindingInfo struct {
	UID             string   `json:"uid"`
	Title           string   `json:"title"`
	CreatedTime     flexTime `json:"created_time"`
	CreatedTimeDT   flexTime `json:"created_time_dt"`
	FirstSeenTime   flexTime `json:"first_seen_time"`
	FirstSeenTimeDT flexTime `json:"first_seen_time_dt"`
	LastSeenTime    flexTime `json:"last_seen_time"`
	LastSeenTimeDT  flexTime `json:"last_seen_time_dt"`
	ModifiedTime    flexTime `json:"modified_time"`
	ModifiedTimeDT  flexTime `json:"modified_time_dt"`
}

type ocsfResource struct {
	UID            string          `json:"uid"`
	Name           string          `json:"name"`
	Type           string          `json:"type"`
	Region         string          `json:"region"`
	CloudPartition string          `json:"cloud_partition"`
	Labels         flexTags        `json:"labels"`
	Data           json.RawMessage `json:"data"`
}

// ocsfResourceData is Prowler's dump of the resource: free-form, so it is
// read leniently and only for tags, the ARN and exposure hints.
type ocsfResourceData struct {
	Metadata struct {
		ARN  string   `json:"arn"`
		Tags flexTags `json:"tags"`
		exposure
	} `json:"metadata"`
}

func (f *ocsfFinding) looksRight() bool {
	return f.FindingInfo != nil || f.Metadata.EventCode != ""
}

// OCSF status_id values (OCSF 1.x base event): 3 Suppressed, 4 Resolved,
// 5 Archived. Prowler sets Suppressed for muted findings and keeps the
// check result (PASS, FAIL, MANUAL) in status_code.
const (
	ocsfStatusSuppressed = 3
	ocsfStatusResolved   = 4
	ocsfStatusArchived   = 5
)

func (f *ocsfFinding) status() posture.Status {
	switch {
	case f.Muted || f.StatusID == ocsfStatusSuppressed || strings.EqualFold(f.Status, "Suppressed"):
		return posture.StatusMuted
	case f.StatusID == ocsfStatusResolved || f.StatusID == ocsfStatusArchived,
		strings.EqualFold(f.Status, "Resolved"), strings.EqualFold(f.Status, "Archived"):
		return posture.StatusResolved
	}
	switch strings.ToUpper(strings.TrimSpace(f.StatusCode)) {
	case "PASS":
		return posture.StatusPassed
	case "MANUAL":
		// Prowler could not decide; someone has to look. It is not a failed
		// control, so it stays out of the open set (posture has no
		// "manual" status, and passed is the nearest: nothing failed).
		return posture.StatusPassed
	}
	return posture.StatusOpen
}

// ocsfSeverityIDs maps OCSF severity_id to a word: 1 Informational, 2 Low,
// 3 Medium, 4 High, 5 Critical, 6 Fatal.
var ocsfSeverityIDs = map[int]posture.Severity{
	1: posture.SeverityInfo, 2: posture.SeverityLow, 3: posture.SeverityMedium,
	4: posture.SeverityHigh, 5: posture.SeverityCritical, 6: posture.SeverityCritical,
}

func (f *ocsfFinding) toFinding(cat *posture.Catalogue, raw json.RawMessage) posture.Finding {
	var res ocsfResource
	if len(f.Resources) > 0 {
		res = f.Resources[0]
	}
	var data ocsfResourceData
	if len(res.Data) > 0 {
		// Lenient on purpose: the dump differs per service and release.
		_ = json.Unmarshal(res.Data, &data)
	}
	info := f.FindingInfo
	if info == nil {
		info = &ocsfFindingInfo{}
	}

	provider := posture.NormalizeProvider(f.Cloud.Provider)
	if provider == "" && strings.HasPrefix(res.CloudPartition, "aws") {
		provider = "aws"
	}
	title := f.Message
	if strings.TrimSpace(title) == "" {
		title = info.Title
	}
	rule := strings.TrimSpace(f.Metadata.EventCode)
	check := cat.Resolve(provider, rule, res.Type, title)
	if provider == "" && check.ID != posture.GenericCheck {
		provider = check.Provider
	}

	sev := posture.ParseSeverity(f.Severity)
	if sev == posture.SeverityUnknown {
		sev = ocsfSeverityIDs[f.SeverityID]
	}
	if sev == posture.SeverityUnknown {
		sev = check.Severity
	}

	tags := flexTags{}
	for k, v := range res.Labels {
		tags[k] = v
	}
	// The structured dump wins over the flattened labels.
	for k, v := range data.Metadata.Tags {
		tags[k] = v
	}

	resID := firstNonEmpty(res.UID, data.Metadata.ARN, res.Name)
	region := firstNonEmpty(f.Cloud.Region, res.Region)
	out := posture.Finding{
		Source:   "prowler",
		Rule:     rule,
		Check:    check.ID,
		Title:    title,
		Provider: provider,
		Account:  f.Cloud.Account.UID,
		Region:   region,
		Resource: posture.Resource{
			ID:       resID,
			Name:     res.Name,
			Type:     res.Type,
			Region:   firstNonEmpty(res.Region, f.Cloud.Region),
			Public:   data.Metadata.public(),
			PublicIP: data.Metadata.ip(),
		},
		Severity: sev,
		Status:   f.status(),
		// Epoch fields first: Prowler writes the *_dt fields in the scanner's
		// local time without a zone (the sample's created_time_dt is one hour
		// ahead of its created_time), so they are only a fallback.
		FirstSeen: first(info.FirstSeenTime, info.FirstSeenTimeDT, info.CreatedTime, info.CreatedTimeDT),
		LastSeen: first(info.LastSeenTime, info.LastSeenTimeDT, info.ModifiedTime, info.ModifiedTimeDT,
			f.Time, f.TimeDT),
		Raw: raw,
	}
	if len(tags) > 0 {
		out.Resource.Tags = tags
	}
	if out.Title == "" {
		out.Title = check.Title
	}
	if info.UID != "" {
		out.SourceIDs = []string{info.UID}
	}
	out.ID = posture.FindingID(provider, out.Account, idKey(check, rule, title), resID)
	return out
}

// idKey is what names the kind of finding in its stable id: the check, or
// for a generic one the source's rule, or failing that its title, so that
// two unknown findings on one resource do not share an id.
func idKey(check *posture.Check, rule, title string) string {
	if check.ID != posture.GenericCheck {
		return check.ID
	}
	if rule != "" {
		return rule
	}
	return "title:" + title
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if strings.TrimSpace(s) != "" {
			return s
		}
	}
	return ""
}
