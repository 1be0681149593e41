package remediate

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
)

// Identifier patterns. Every value substituted into a script must match one
// of these in full; anything else (quotes, spaces, "$(", ";", newlines)
// makes Generate refuse to render. They are deliberately stricter than the
// providers' own rules where being strict costs little.
var (
	reAWSAccount = regexp.MustCompile(`^[0-9]{12}$`)
	// AWS regions: partition prefix, optional gov/iso marker, direction, digit.
	reAWSRegion = regexp.MustCompile(`^(us|eu|ap|sa|ca|me|af|il|mx|cn)(-gov|-iso|-isob)?-(north|south|east|west|central|northeast|southeast|northwest|southwest)-[0-9]{1,2}$`)
	// S3 bucket names: 3-63 lower-case letters, digits, dots and hyphens,
	// starting and ending with a letter or digit.
	reS3Bucket   = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	reSGID       = regexp.MustCompile(`^sg-([0-9a-f]{8}|[0-9a-f]{17})$`)
	reInstanceID = regexp.MustCompile(`^i-([0-9a-f]{8}|[0-9a-f]{17})$`)
	reVolumeID   = regexp.MustCompile(`^vol-([0-9a-f]{8}|[0-9a-f]{17})$`)
	reRDSID      = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9-]{0,62}$`)
	reIAMName    = regexp.MustCompile(`^[A-Za-z0-9+=,.@_-]{1,128}$`)
	reIAMPath    = regexp.MustCompile(`^(/[A-Za-z0-9+=,.@_-]+)*/$`)
	reTrailName  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{2,127}$`)
	reAWSService = regexp.MustCompile(`^[a-z0-9-]{2,32}$`)
	reARNRest    = regexp.MustCompile(`^[A-Za-z0-9_+=,.@/:-]{1,1000}$`)

	reAzureSub     = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	reAzureRG      = regexp.MustCompile(`^[A-Za-z0-9_.-]{0,89}[A-Za-z0-9_-]$`)
	reAzureStorage = regexp.MustCompile(`^[a-z0-9]{3,24}$`)
	reAzureNSG     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,78}[A-Za-z0-9_]$|^[A-Za-z0-9]$`)
	reAzureRegion  = regexp.MustCompile(`^[a-z][a-z0-9]{2,30}$`)

	reGCPProject  = regexp.MustCompile(`^[a-z][a-z0-9-]{4,28}[a-z0-9]$`)
	reGCSBucket   = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{1,61}[a-z0-9]$`)
	reGCPName     = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`)
	reGCPLocation = regexp.MustCompile(`^[a-z]+(-[a-z]+[0-9]+)?(-[a-z])?$`)

	reFindingID = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,64}$`)
	reCheckID   = regexp.MustCompile(`^[a-z0-9_]{1,128}$`)
	// Tag values from attribution end up inside double quotes and in the
	// aws "Key=...,Value=..." shorthand, so no quotes, "$", "`", "\\" or ",".
	reTagValue = regexp.MustCompile(`^[A-Za-z0-9 _.:/=+@-]{1,128}$`)
)

// identError says which identifier failed, without echoing the raw value:
// it may be hostile and the message goes to logs and chat.
func identError(what string, v string) error {
	if v == "" {
		return fmt.Errorf("%s is missing", what)
	}
	return fmt.Errorf("%s does not look like a valid %s (%d characters)", what, what, len(v))
}

func need(re *regexp.Regexp, what, v string) (string, error) {
	if !re.MatchString(v) {
		return "", identError(what, v)
	}
	return v, nil
}

func validS3Bucket(v string) (string, error) {
	if !reS3Bucket.MatchString(v) || strings.Contains(v, "..") {
		return "", identError("bucket name", v)
	}
	if _, err := netip.ParseAddr(v); err == nil {
		return "", identError("bucket name", v)
	}
	return v, nil
}

// arn is a parsed Amazon Resource Name.
type arn struct {
	Partition, Service, Region, Account, Resource string
}

func (a arn) String() string {
	return "arn:" + a.Partition + ":" + a.Service + ":" + a.Region + ":" + a.Account + ":" + a.Resource
}

// parseARN splits and validates an ARN. Region and account may be empty
// (S3 and IAM ARNs); when set they must be well formed.
func parseARN(s string) (arn, error) {
	p := strings.SplitN(s, ":", 6)
	if len(p) != 6 || p[0] != "arn" {
		return arn{}, identError("ARN", s)
	}
	a := arn{Partition: p[1], Service: p[2], Region: p[3], Account: p[4], Resource: p[5]}
	switch a.Partition {
	case "aws", "aws-us-gov", "aws-cn":
	default:
		return arn{}, identError("ARN", s)
	}
	if !reAWSService.MatchString(a.Service) ||
		(a.Region != "" && !reAWSRegion.MatchString(a.Region)) ||
		(a.Account != "" && !reAWSAccount.MatchString(a.Account)) ||
		!reARNRest.MatchString(a.Resource) {
		return arn{}, identError("ARN", s)
	}
	return a, nil
}

// azureID is a parsed Azure resource id.
type azureID struct {
	Subscription, ResourceGroup, Provider, Type, Name string
}

// parseAzureID reads /subscriptions/<guid>/resourceGroups/<rg>/providers/
// <namespace>/<type>/<name>. Segment names are case-insensitive in Azure.
func parseAzureID(s string) (azureID, error) {
	p := strings.Split(strings.TrimPrefix(s, "/"), "/")
	if len(p) != 8 || !strings.EqualFold(p[0], "subscriptions") || !strings.EqualFold(p[2], "resourceGroups") ||
		!strings.EqualFold(p[4], "providers") {
		return azureID{}, identError("Azure resource id", s)
	}
	id := azureID{Subscription: strings.ToLower(p[1]), ResourceGroup: p[3], Provider: p[5], Type: p[6], Name: p[7]}
	if !reAzureSub.MatchString(id.Subscription) || !reAzureRG.MatchString(id.ResourceGroup) {
		return azureID{}, identError("Azure resource id", s)
	}
	return id, nil
}

// lastGCPSegment takes the resource name from a GCP self link or full
// resource name (".../projects/p/global/firewalls/name",
// "//storage.googleapis.com/projects/_/buckets/name") or a bare name, and the
// project when the path carries one. A path of any other shape gives ok
// false: the name must not be whatever follows a stray slash.
func lastGCPSegment(s string) (name, project string, ok bool) {
	p := strings.Split(s, "/")
	if len(p) == 1 {
		return s, "", true
	}
	if c := p[len(p)-2]; c != "buckets" && c != "firewalls" {
		return "", "", false
	}
	for _, seg := range p {
		if !reGCPSegment.MatchString(seg) {
			return "", "", false
		}
	}
	for i := 0; i+1 < len(p); i++ {
		if p[i] == "projects" && p[i+1] != "_" {
			project = p[i+1]
		}
	}
	return p[len(p)-1], project, true
}

var reGCPSegment = regexp.MustCompile(`^[A-Za-z0-9._:-]*$`)

func validTag(what, v string) (string, bool) {
	v = strings.TrimSpace(v)
	if v == "" || !reTagValue.MatchString(v) {
		return "", false
	}
	return v, true
}
