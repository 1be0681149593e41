package remediate

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/optix-bot/optix-bot/posture"
)

// version is the release of the template set; bump the suffix when any
// template's text changes, so audit entries say which wording ran.
const version = "2026-12-03.3"

var allKinds = []*kind{
	{
		id: "aws-s3-block-public-access", version: version, provider: "aws",
		checks: []string{"s3_bucket_public_access", "s3_bucket_public_list_acl", "s3_bucket_public_write_acl",
			"s3_bucket_policy_public_write_access", "s3_bucket_level_public_access_block"},
		formats: []Format{AWSCLI, Terraform, CloudFormation},
		bind:    bindS3,
		steps: []string{
			"Open the bucket in the S3 console and go to Permissions.",
			"Under Block public access (bucket settings), choose Edit, tick all four settings and save.",
			"If the bucket must serve public content, put CloudFront with origin access control in front of it instead of opening the bucket.",
			"Check the bucket policy and ACL no longer grant access to everyone (Principal \"*\", AllUsers, AuthenticatedUsers).",
		},
	},
	{
		id: "aws-s3-kms-encryption", version: version, provider: "aws",
		checks:  []string{"s3_bucket_default_encryption", "s3_bucket_kms_encryption"},
		formats: []Format{AWSCLI, Terraform, CloudFormation},
		bind: func(in Input, check string) (map[string]any, error) {
			d, err := bindS3(in, check)
			if err == nil {
				d["AcceptAES256"] = check == "s3_bucket_default_encryption"
			}
			return d, err
		},
		steps: []string{
			"Open the bucket in the S3 console and go to Properties > Default encryption.",
			"Choose SSE-S3 (AES-256) to pass the default-encryption check; choose SSE-KMS instead (the AWS managed key aws/s3, or a customer managed key if you need key policies) with Bucket Key enabled when the KMS check applies or the data calls for it.",
			"Existing objects keep their encryption; copy them in place if they must be re-encrypted.",
		},
	},
	{
		id: "aws-s3-versioning", version: version, provider: "aws",
		checks:  []string{"s3_bucket_object_versioning"},
		formats: []Format{AWSCLI, Terraform, CloudFormation},
		bind:    bindS3,
		steps: []string{
			"Open the bucket in the S3 console and go to Properties > Bucket Versioning, choose Edit, Enable, save.",
			"Add a lifecycle rule that expires noncurrent versions after a retention period, to bound the storage cost.",
		},
	},
	{
		id: "aws-s3-access-logging", version: version, provider: "aws",
		checks:  []string{"s3_bucket_server_access_logging_enabled"},
		formats: []Format{AWSCLI, Terraform},
		bind:    bindS3,
		steps: []string{
			"Pick (or create) a dedicated log bucket in the same account and region; it must not be the bucket itself.",
			"Open the bucket in the S3 console, Properties > Server access logging, choose Edit, enable it and set the log bucket and a prefix.",
		},
	},
	{
		id: "aws-ec2-sg-revoke-internet-ingress", version: version, provider: "aws",
		checks: []string{"ec2_securitygroup_allow_ingress_from_internet_to_tcp_port_22",
			"ec2_securitygroup_allow_ingress_from_internet_to_tcp_port_3389",
			"ec2_securitygroup_allow_ingress_from_internet_to_all_ports",
			"ec2_securitygroup_allow_ingress_from_internet_to_any_port"},
		formats:  []Format{AWSCLI},
		removals: []string{"aws ec2 revoke-security-group-ingress"},
		bind:     bindSG,
		steps: []string{
			"Open the security group in the EC2 console (Security Groups) and go to Inbound rules.",
			"Remove only the rule whose source is 0.0.0.0/0 or ::/0 for the port in the finding; leave other rules alone.",
			"If people need that port, add a rule for their VPN or office range instead, or use SSM Session Manager for shell access.",
		},
	},
	{
		id: "aws-rds-encrypt-via-snapshot", version: version, provider: "aws",
		checks:  []string{"rds_instance_storage_encrypted"},
		formats: []Format{AWSCLI},
		bind:    bindRDS,
		steps: []string{
			"RDS cannot encrypt an existing instance. In a maintenance window, stop every writer first; only then take a snapshot (with a name no earlier attempt used), copy it with encryption enabled (aws/rds or your KMS key), and restore that copy as a new instance. A snapshot taken while writes went on loses them.",
			"Give the new instance the old one's subnet group, security groups and parameter group; cut the application over in a maintenance window.",
			"Keep the old instance stopped until the new one has run cleanly, then retire it.",
		},
	},
	{
		id: "aws-rds-no-public-access", version: version, provider: "aws",
		checks:  []string{"rds_instance_no_public_access"},
		formats: []Format{AWSCLI},
		bind:    bindRDS,
		steps: []string{
			"In the RDS console, modify the instance: Connectivity > Public access: Not publicly accessible; apply immediately or in the next window.",
			"Check its security groups do not admit the database port from 0.0.0.0/0.",
		},
	},
	{
		id: "aws-ebs-default-encryption", version: version, provider: "aws",
		checks:  []string{"ec2_ebs_default_encryption"},
		formats: []Format{AWSCLI, Terraform},
		// The Terraform import id of the region's one setting.
		literals: []string{"default"},
		bind:     bindRegionOnly,
		steps: []string{
			"In the EC2 console for the region, open Settings > EBS encryption, choose Manage and enable encryption by default.",
			"Existing volumes are unchanged; encrypt them by snapshot and encrypted copy.",
		},
	},
	{
		id: "aws-ebs-volume-encrypt-copy", version: version, provider: "aws",
		checks:  []string{"ec2_ebs_volume_encryption"},
		formats: []Format{AWSCLI},
		bind:    bindVolume,
		steps: []string{
			"A volume cannot be encrypted in place. Stop the instance (or detach the volume) first; only then snapshot it, copy the snapshot with encryption, and create a volume from that copy in the same availability zone.",
			"With the instance still stopped, swap the volumes under the same device name, start it and check; keep the old volume until you are sure.",
			"Turn on EBS encryption by default in the region so new volumes start encrypted.",
		},
	},
	{
		id: "aws-iam-policy-scope-down", version: version, provider: "aws", global: true,
		checks:  []string{"iam_customer_attached_policy_no_administrative_privileges", "iam_policy_allows_privilege_escalation"},
		formats: []Format{AWSCLI},
		bind:    bindIAMPolicy,
		steps: []string{
			"Find out what the principals using the policy actually do (IAM Access Advisor, CloudTrail, or Access Analyzer policy generation).",
			"Write a new policy version that lists only those actions on only those resources; no \"*\" actions.",
			"Validate it with IAM Access Analyzer, make it the default version, and keep the old version for rollback.",
			"If nobody should have it at all, detach the policy from its users, groups and roles instead.",
		},
	},
	{
		id: "aws-iam-inline-policy-scope-down", version: version, provider: "aws", global: true,
		checks:  []string{"iam_inline_policy_no_administrative_privileges"},
		formats: []Format{AWSCLI},
		bind:    bindIAMInline,
		steps: []string{
			"Save the inline policy's current document, then find out which actions the user, group or role really needs.",
			"Replace the document with one that lists only those actions and resources; no \"*\" actions. Validate it with IAM Access Analyzer first.",
			"Prefer a managed policy over an inline one, so it is versioned and reviewable.",
		},
	},
	{
		id: "aws-iam-require-mfa", version: version, provider: "aws", global: true,
		checks:  []string{"iam_user_mfa_enabled_console_access"},
		formats: []Format{AWSCLI, Terraform},
		bind:    bindIAMUser,
		steps: []string{
			"Ask the user to enrol a virtual MFA device: IAM console > Users > the user > Security credentials > Assign MFA device.",
			"Until they do, attach a policy that denies everything except MFA enrolment and password change when MFA is absent. It also blocks the user's access keys (CLI, SDK, automation) unless they use MFA session credentials, and it grants nothing: the user needs existing rights to create and enable their own MFA device.",
			"If the user does not need the console, remove their console password instead.",
		},
	},
	{
		id: "aws-iam-deactivate-old-key", version: version, provider: "aws", global: true,
		checks:  []string{"iam_rotate_access_key_90_days"},
		formats: []Format{AWSCLI},
		bind:    bindOldKey,
		steps: []string{
			"Create a second access key for the user and roll it out to everything that uses the old one.",
			"Check the old key's last use, then make it Inactive (not deleted) and watch for breakage.",
			"Delete the inactive key a few weeks later; better still, move the workload to an IAM role.",
		},
	},
	{
		id: "aws-cloudtrail-multi-region", version: version, provider: "aws",
		checks:  []string{"cloudtrail_multi_region_enabled"},
		formats: []Format{AWSCLI, Terraform},
		bind:    bindTrail,
		steps: []string{
			"In the CloudTrail console, open the trail (or create one) and set it to apply to all regions, including global service events.",
			"Make sure logging is on and the log bucket is private, versioned and encrypted.",
		},
	},
	{
		id: "aws-tag-required", version: version, provider: "aws",
		checks:  []string{"resource_missing_required_tags"},
		formats: []Format{AWSCLI},
		bind:    bindTags,
		steps: []string{
			"Find the owning team and the environment of the resource (ask in the account's channel if unsure).",
			"Add the owner and environment tags in the resource's console page or with the Tag Editor in Resource Groups.",
		},
	},
	{
		id: "azure-storage-disable-public-blob", tmpl: "azure-storage-account-setting", version: version, provider: "azure",
		checks:  []string{"storage_blob_public_access_level_is_disabled"},
		formats: []Format{AzCLI},
		bind: bindStorageSetting("allowBlobPublicAccess", "--allow-blob-public-access", "false", "true",
			"turn off anonymous (public) blob access for the whole storage account",
			"containers set to public stop serving anonymous reads; use SAS tokens or a CDN instead."),
		steps: []string{
			"In the Azure portal, open the storage account > Settings > Configuration.",
			"Set Allow Blob anonymous access to Disabled and save.",
		},
	},
	{
		id: "azure-storage-require-https", tmpl: "azure-storage-account-setting", version: version, provider: "azure",
		checks:  []string{"storage_secure_transfer_required_is_enabled"},
		formats: []Format{AzCLI},
		bind: bindStorageSetting("enableHttpsTrafficOnly", "--https-only", "true", "false",
			"require secure transfer (HTTPS only) on the storage account",
			"clients that still use plain HTTP fail until they switch to HTTPS."),
		steps: []string{
			"In the Azure portal, open the storage account > Settings > Configuration.",
			"Set Secure transfer required to Enabled and save.",
		},
	},
	{
		id: "azure-nsg-remove-internet-rule", version: version, provider: "azure",
		checks:   []string{"network_ssh_internet_access_restricted", "network_rdp_internet_access_restricted"},
		formats:  []Format{AzCLI},
		removals: []string{"az network nsg rule delete"},
		bind:     bindNSG,
		steps: []string{
			"In the Azure portal, open the network security group > Inbound security rules.",
			"Delete (or narrow the source of) only the rule that allows the port from Any, Internet or 0.0.0.0/0.",
			"Use Azure Bastion or a VPN for administrative access.",
		},
	},
	{
		id: "gcp-bucket-remove-public-members", version: version, provider: "gcp",
		checks:   []string{"cloudstorage_bucket_public_access"},
		formats:  []Format{GCloud},
		removals: []string{"gsutil iam ch -d"},
		bind:     bindGCSBucket,
		steps: []string{
			"In the Cloud console, open the bucket > Permissions.",
			"Remove allUsers and allAuthenticatedUsers from every role; keep the other principals.",
			"Turn on public access prevention for the bucket if nothing should ever be public.",
		},
	},
	{
		id: "gcp-firewall-restrict-source", version: version, provider: "gcp",
		checks:  []string{"compute_firewall_ssh_access_from_the_internet_allowed", "compute_firewall_rdp_access_from_the_internet_allowed"},
		formats: []Format{GCloud},
		bind:    bindFirewall,
		steps: []string{
			"In the Cloud console, open VPC network > Firewall and edit the rule.",
			"Replace 0.0.0.0/0 and ::/0 in the source ranges with your trusted ranges (IAP TCP forwarding uses 35.235.240.0/20).",
		},
	},
}

func bindS3(in Input, _ string) (map[string]any, error) {
	d, err := awsScope(in.Finding, regional)
	if err != nil {
		return nil, err
	}
	b, err := s3Bucket(in.Finding, d)
	if err != nil {
		return nil, err
	}
	d["Bucket"] = b
	d["Resource"] = "arn:aws:s3:::" + b
	return d, nil
}

func bindRegionOnly(in Input, _ string) (map[string]any, error) {
	d, err := awsScope(in.Finding, regional)
	if err != nil {
		return nil, err
	}
	d["Resource"] = fmt.Sprintf("EBS settings of account %s in %s", d["Account"], d["Region"])
	return d, nil
}

// awsResourceName takes the name of an ARN-identified AWS resource of the
// given service and type, or the bare id/name when the source gave no ARN.
func awsResourceName(f *posture.Finding, d map[string]any, service, typ string) (string, error) {
	if strings.HasPrefix(f.Resource.ID, "arn:") {
		a, err := resourceARN(f, d, service)
		if err != nil {
			return "", err
		}
		_, name, err := arnResourceName(a, typ)
		return name, err
	}
	if f.Resource.ID != "" {
		return f.Resource.ID, nil
	}
	return f.Resource.Name, nil
}

func bindSG(in Input, check string) (map[string]any, error) {
	f := in.Finding
	d, err := awsScope(f, regional)
	if err != nil {
		return nil, err
	}
	raw, err := awsResourceName(f, d, "ec2", "security-group")
	if err != nil {
		return nil, err
	}
	id, err := need(reSGID, "security group id", raw)
	if err != nil {
		return nil, err
	}
	// Match selects the rule that is exactly the offending exposure (the
	// one revoked); Covers selects every rule that admits the same traffic,
	// whatever else it opens: all protocols, or a TCP range around the
	// port. JMESPath number literals need backticks, which the linter
	// refuses, so numbers come from to_number('...').
	// Left says why a rule still covering the traffic was not revoked.
	type rule struct{ Key, Match, Covers, Perm, Label, Left string }
	tcp := func(p int) rule {
		n := strconv.Itoa(p)
		return rule{Key: n, Label: "TCP port " + n, Left: "which open more than this port and were left alone",
			Match:  fmt.Sprintf("IpProtocol=='tcp' && to_string(FromPort)=='%d' && to_string(ToPort)=='%d'", p, p),
			Covers: fmt.Sprintf("(IpProtocol=='-1' || ((IpProtocol=='tcp' || IpProtocol=='6') && FromPort <= to_number('%d') && ToPort >= to_number('%d')))", p, p),
			Perm:   fmt.Sprintf("IpProtocol=tcp,FromPort=%d,ToPort=%d", p, p)}
	}
	var rules []rule
	var what string
	switch check {
	case "ec2_securitygroup_allow_ingress_from_internet_to_tcp_port_22":
		rules, what = []rule{tcp(22)}, "SSH (TCP 22)"
	case "ec2_securitygroup_allow_ingress_from_internet_to_tcp_port_3389":
		rules, what = []rule{tcp(3389)}, "RDP (TCP 3389)"
	case "ec2_securitygroup_allow_ingress_from_internet_to_all_ports":
		// The offending rule is all protocols, or every TCP or UDP port
		// (the check fails on either); each is revoked exactly. A rule
		// written another way (protocol "6" or "17") is reported.
		left := "which are not written the way this script revokes and were left alone"
		full := func(key, proto, num, label string) rule {
			return rule{Key: key, Label: label, Left: left,
				Match:  fmt.Sprintf("IpProtocol=='%s' && to_string(FromPort)=='0' && to_string(ToPort)=='65535'", proto),
				Covers: fmt.Sprintf("((IpProtocol=='%s' || IpProtocol=='%s') && FromPort <= to_number('0') && ToPort >= to_number('65535'))", proto, num),
				Perm:   "IpProtocol=" + proto + ",FromPort=0,ToPort=65535"}
		}
		rules = []rule{
			{Key: "ALL", Label: "all traffic", Left: left, Match: "IpProtocol=='-1'", Perm: "IpProtocol=-1", Covers: "IpProtocol=='-1'"},
			full("TCP", "tcp", "6", "every TCP port"),
			full("UDP", "udp", "17", "every UDP port"),
		}
		what = "all traffic or every TCP or UDP port"
	default:
		// "Any port": only the ports the source reported open can be
		// revoked exactly; without them there is nothing safe to render.
		seen := map[int]bool{}
		var ports []string
		for _, p := range f.Resource.OpenPorts {
			if p < 1 || p > 65535 || seen[p] {
				continue
			}
			seen[p] = true
			rules = append(rules, tcp(p))
			ports = append(ports, strconv.Itoa(p))
		}
		if len(rules) == 0 {
			return nil, fmt.Errorf("the finding does not say which port is open")
		}
		what = "TCP port " + strings.Join(ports, ", ")
	}
	d["GroupID"] = id
	d["Rules"] = rules
	d["What"] = what
	d["Resource"] = fmt.Sprintf("arn:aws:ec2:%s:%s:security-group/%s", d["Region"], d["Account"], id)
	return d, nil
}

func bindRDS(in Input, _ string) (map[string]any, error) {
	d, err := awsScope(in.Finding, regional)
	if err != nil {
		return nil, err
	}
	raw, err := awsResourceName(in.Finding, d, "rds", "db")
	if err != nil {
		return nil, err
	}
	// Snapshot names derived from it get a suffix, so leave room for it.
	if !reRDSID.MatchString(raw) || strings.Contains(raw, "--") || strings.HasSuffix(raw, "-") {
		return nil, identError("DB instance identifier", raw)
	}
	d["DBInstance"] = raw
	d["Resource"] = fmt.Sprintf("arn:aws:rds:%s:%s:db:%s", d["Region"], d["Account"], raw)
	return d, nil
}

func bindVolume(in Input, _ string) (map[string]any, error) {
	d, err := awsScope(in.Finding, regional)
	if err != nil {
		return nil, err
	}
	raw, err := awsResourceName(in.Finding, d, "ec2", "volume")
	if err != nil {
		return nil, err
	}
	id, err := need(reVolumeID, "EBS volume id", raw)
	if err != nil {
		return nil, err
	}
	d["VolumeID"] = id
	d["Resource"] = fmt.Sprintf("arn:aws:ec2:%s:%s:volume/%s", d["Region"], d["Account"], id)
	return d, nil
}

// escalationActions are the IAM actions that let a principal grant itself
// more (the combinations behind prowler's
// iam_policy_allows_privilege_escalation), checked one by one because a
// policy may hold any of them without "*".
var escalationActions = []string{
	"iam:AttachGroupPolicy", "iam:AttachRolePolicy", "iam:AttachUserPolicy", "iam:CreateAccessKey",
	"iam:CreateLoginProfile", "iam:CreatePolicyVersion", "iam:PassRole", "iam:PutGroupPolicy",
	"iam:PutRolePolicy", "iam:PutUserPolicy", "iam:SetDefaultPolicyVersion", "iam:UpdateAssumeRolePolicy",
	"iam:UpdateLoginProfile", "iam:AddUserToGroup", "sts:AssumeRole",
}

// probeActions are simulated against the operator's document: any of them
// allowed means it still grants administrator or escalation power.
// organizations:LeaveOrganization stands for "an action nobody scoped
// should need", which only a wildcard would allow.
var probeActions = append(append([]string(nil), escalationActions...), "organizations:LeaveOrganization", "kms:ScheduleKeyDeletion")

func riskyMatch(escalation bool) string {
	parts := []string{"contains(to_array(Action), '*')"}
	if escalation {
		parts = append(parts, "contains(to_array(Action), 'iam:*')", "contains(to_array(Action), 'sts:*')")
		for _, a := range escalationActions {
			parts = append(parts, "contains(to_array(Action), '"+a+"')")
		}
	}
	return strings.Join(parts, " || ")
}

func bindIAMPolicy(in Input, check string) (map[string]any, error) {
	d, err := awsScope(in.Finding, global)
	if err != nil {
		return nil, err
	}
	a, err := resourceARN(in.Finding, d, "iam")
	if err != nil {
		return nil, err
	}
	path, name, err := arnResourceName(a, "policy")
	if err != nil {
		return nil, err
	}
	if !reIAMPath.MatchString(path) || !reIAMName.MatchString(name) || a.Account == "" {
		return nil, identError("IAM policy ARN", in.Finding.Resource.ID)
	}
	d["PolicyARN"] = a.String()
	d["Resource"] = a.String()
	d["RiskyMatch"] = riskyMatch(check == "iam_policy_allows_privilege_escalation")
	d["ProbeActions"] = probeActions
	d["Simulate"] = []string(nil)
	if check == "iam_policy_allows_privilege_escalation" {
		d["Simulate"] = escalationActions
	}
	return d, nil
}

func bindIAMInline(in Input, _ string) (map[string]any, error) {
	f := in.Finding
	d, err := awsScope(f, global)
	if err != nil {
		return nil, err
	}
	a, err := resourceARN(f, d, "iam")
	if err != nil {
		return nil, err
	}
	var kindName, path, entity string
	for _, k := range []string{"user", "role", "group"} {
		if p, n, err := arnResourceName(a, k); err == nil {
			kindName, path, entity = k, p, n
			break
		}
	}
	if kindName == "" || !reIAMPath.MatchString(path) || !reIAMName.MatchString(entity) {
		return nil, identError("IAM user, role or group ARN", f.Resource.ID)
	}
	// Sources name the inline policy as "<entity>/<policy>" or just
	// "<policy>".
	policy := f.Resource.Name
	if i := strings.LastIndex(policy, "/"); i >= 0 {
		if policy[:i] != entity {
			return nil, identError("inline policy name", policy)
		}
		policy = policy[i+1:]
	}
	if _, err := need(reIAMName, "inline policy name", policy); err != nil {
		return nil, err
	}
	d["EntityKind"] = kindName
	d["EntityName"] = entity
	d["PolicyName"] = policy
	d["Resource"] = a.String() + " (inline policy " + policy + ")"
	d["RiskyMatch"] = riskyMatch(false)
	d["ProbeActions"] = probeActions
	return d, nil
}

// bindOldKey also gives the key script a default cutoff: 90 days before
// the finding was last seen, which is at least 90 days before now.
func bindOldKey(in Input, check string) (map[string]any, error) {
	d, err := bindIAMUser(in, check)
	if err != nil {
		return nil, err
	}
	d["Cutoff"] = ""
	if !in.Finding.LastSeen.IsZero() {
		d["Cutoff"] = in.Finding.LastSeen.UTC().AddDate(0, 0, -90).Format("2006-01-02")
	}
	return d, nil
}

func bindIAMUser(in Input, _ string) (map[string]any, error) {
	d, err := awsScope(in.Finding, global)
	if err != nil {
		return nil, err
	}
	raw, err := awsResourceName(in.Finding, d, "iam", "user")
	if err != nil {
		return nil, err
	}
	name, err := need(reIAMName, "IAM user name", raw)
	if err != nil {
		return nil, err
	}
	d["UserName"] = name
	d["Resource"] = "IAM user " + name
	return d, nil
}

func bindTrail(in Input, _ string) (map[string]any, error) {
	d, err := awsScope(in.Finding, regional)
	if err != nil {
		return nil, err
	}
	a, err := resourceARN(in.Finding, d, "cloudtrail")
	if err != nil {
		return nil, fmt.Errorf("no existing trail to update: %w", err)
	}
	_, name, err := arnResourceName(a, "trail")
	if err != nil {
		return nil, fmt.Errorf("no existing trail to update: %w", err)
	}
	if _, err := need(reTrailName, "trail name", name); err != nil {
		return nil, err
	}
	if a.Account == "" || a.Region == "" {
		return nil, identError("trail ARN", in.Finding.Resource.ID)
	}
	d["TrailName"] = name
	d["TrailARN"] = a.String()
	d["Resource"] = a.String()
	return d, nil
}

func bindTags(in Input, _ string) (map[string]any, error) {
	d, err := awsScope(in.Finding, global)
	if err != nil {
		return nil, err
	}
	a, err := taggedARN(in.Finding, d)
	if err != nil {
		return nil, err
	}
	if a.Account != "" && a.Account != d["Account"] {
		return nil, fmt.Errorf("resource ARN account differs from the finding's account")
	}
	if a.Region != "" && a.Region != d["Region"] {
		return nil, fmt.Errorf("resource ARN region differs from the finding's region")
	}
	d["ResourceARN"] = a.String()
	d["Resource"] = a.String()
	tagsFrom(in, d)
	return d, nil
}

// taggedARN is the ARN of the resource to tag. Cloud Optix names EC2
// instances by instance id, not ARN: the ARN is then built from the
// finding's account and region, each validated, and the instance id.
func taggedARN(f *posture.Finding, d map[string]any) (arn, error) {
	if !reInstanceID.MatchString(f.Resource.ID) {
		return parseARN(f.Resource.ID)
	}
	region, _ := d["Region"].(string)
	if region == "" {
		return arn{}, fmt.Errorf("an EC2 instance finding needs the instance's region")
	}
	acct, _ := d["Account"].(string)
	return arn{Partition: partitionOf(region), Service: "ec2", Region: region, Account: acct,
		Resource: "instance/" + f.Resource.ID}, nil
}

// azureScope validates the subscription (the finding's account), the
// resource id, and that the id names the expected resource type in that
// subscription.
func azureScope(f *posture.Finding, provider, typ string) (map[string]any, azureID, error) {
	sub, err := need(reAzureSub, "Azure subscription id", strings.ToLower(f.Account))
	if err != nil {
		return nil, azureID{}, err
	}
	id, err := parseAzureID(f.Resource.ID)
	if err != nil {
		return nil, azureID{}, err
	}
	if !strings.EqualFold(id.Provider, provider) || !strings.EqualFold(id.Type, typ) {
		return nil, azureID{}, fmt.Errorf("Azure resource id is not a %s/%s", provider, typ)
	}
	if id.Subscription != sub {
		return nil, azureID{}, fmt.Errorf("Azure resource id subscription differs from the finding's")
	}
	d := map[string]any{"Account": sub, "Region": "", "ResourceGroup": id.ResourceGroup}
	if r := f.Region; r != "" {
		if _, err := need(reAzureRegion, "Azure region", r); err != nil {
			return nil, azureID{}, err
		}
		d["Region"] = r
	}
	return d, id, nil
}

func bindStorageSetting(property, flag, want, undo, explain, impact string) func(Input, string) (map[string]any, error) {
	return func(in Input, _ string) (map[string]any, error) {
		d, id, err := azureScope(in.Finding, "Microsoft.Storage", "storageAccounts")
		if err != nil {
			return nil, err
		}
		name, err := need(reAzureStorage, "storage account name", id.Name)
		if err != nil {
			return nil, err
		}
		d["StorageAccount"] = name
		d["Property"], d["Flag"], d["Want"], d["Undo"] = property, flag, want, undo
		d["Explain"], d["Impact"] = explain, impact
		d["Resource"] = fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Storage/storageAccounts/%s", d["Account"], id.ResourceGroup, name)
		return d, nil
	}
}

func bindNSG(in Input, check string) (map[string]any, error) {
	d, id, err := azureScope(in.Finding, "Microsoft.Network", "networkSecurityGroups")
	if err != nil {
		return nil, err
	}
	name, err := need(reAzureNSG, "network security group name", id.Name)
	if err != nil {
		return nil, err
	}
	port := "22"
	if check == "network_rdp_internet_access_restricted" {
		port = "3389"
	}
	d["NSG"] = name
	d["Port"] = port
	// The internet as an NSG source: "*", "Any", "Internet", 0.0.0.0 or
	// any "/0" prefix, in sourceAddressPrefix or the plural
	// sourceAddressPrefixes. Only Allow rules for TCP (or every protocol)
	// admit the port.
	inet := func(x string) string {
		var alts []string
		for _, v := range []string{"*", "Internet", "internet", "Any", "any", "0.0.0.0"} {
			alts = append(alts, x+"=='"+v+"'")
		}
		return "(" + strings.Join(alts, " || ") + " || ends_with(" + x + ", '/0'))"
	}
	single := inet("not_null(sourceAddressPrefix, '')")
	anySource := "(" + single + " || not_null(sourceAddressPrefixes, [])[?" + inet("@") + "])"
	allow := "direction=='Inbound' && access=='Allow' && (protocol=='Tcp' || protocol=='TCP' || protocol=='*')"
	// Exact: the one port, one internet source, nothing else; only such a
	// rule is deleted.
	d["ExactMatch"] = allow + " && " + single + " && !not_null(sourceAddressPrefixes, []) && destinationPortRange=='" + port +
		"' && !not_null(destinationPortRanges, [])"
	// Wider: any internet source and the port itself or "*", singular or
	// in the plural list. Port ranges ("20-25") cannot be compared in
	// JMESPath, so RangeSpecs hands them to the script, which compares the
	// numbers itself.
	d["CoverMatch"] = allow + " && " + anySource + " && (destinationPortRange=='*' || destinationPortRange=='" + port +
		"' || not_null(destinationPortRanges, [])[?@=='*' || @=='" + port + "'])"
	d["RangeSpecs"] = "join(',', [?" + allow + " && " + anySource +
		"].[not_null(destinationPortRange, ''), not_null(destinationPortRanges, [])] | [] | [] | [?contains(@, '-')])"
	d["RangeRules"] = "join(', ', [?" + allow + " && " + anySource +
		" && (contains(not_null(destinationPortRange, ''), '-') || not_null(destinationPortRanges, [])[?contains(@, '-')])].name)"
	d["Slots"] = slots(maxRanges)
	d["MaxRanges"] = maxRanges
	d["Resource"] = fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/networkSecurityGroups/%s", d["Account"], id.ResourceGroup, name)
	return d, nil
}

func gcpScope(f *posture.Finding) (map[string]any, string, error) {
	project, err := need(reGCPProject, "GCP project id", f.Account)
	if err != nil {
		return nil, "", err
	}
	d := map[string]any{"Account": project, "Region": ""}
	if r := f.Region; r != "" && r != "global" {
		if _, err := need(reGCPLocation, "GCP location", r); err != nil {
			return nil, "", err
		}
		d["Region"] = r
	}
	raw := f.Resource.ID
	if raw == "" {
		raw = f.Resource.Name
	}
	name, inPath, ok := lastGCPSegment(raw)
	if !ok {
		return nil, "", identError("GCP resource path", raw)
	}
	if inPath != "" && inPath != project {
		return nil, "", fmt.Errorf("GCP resource path names another project")
	}
	return d, name, nil
}

func bindGCSBucket(in Input, _ string) (map[string]any, error) {
	d, raw, err := gcpScope(in.Finding)
	if err != nil {
		return nil, err
	}
	name, err := need(reGCSBucket, "Cloud Storage bucket name", raw)
	if _, ipErr := netip.ParseAddr(raw); err != nil || ipErr == nil || strings.Contains(name, "..") {
		return nil, identError("Cloud Storage bucket name", raw)
	}
	d["Bucket"] = name
	d["Resource"] = "gs://" + name
	return d, nil
}

func bindFirewall(in Input, check string) (map[string]any, error) {
	d, raw, err := gcpScope(in.Finding)
	if err != nil {
		return nil, err
	}
	name, err := need(reGCPName, "firewall rule name", raw)
	if err != nil {
		return nil, err
	}
	d["Firewall"] = name
	d["Slots"] = slots(maxRanges)
	d["MaxRanges"] = maxRanges
	d["Port"] = "22"
	if check == "compute_firewall_rdp_access_from_the_internet_allowed" {
		d["Port"] = "3389"
	}
	d["Resource"] = fmt.Sprintf("projects/%s/global/firewalls/%s", d["Account"], name)
	return d, nil
}

// maxRanges is how many comma-separated values a script takes apart
// without a loop (the linter allows none): more than that and the script
// stops and asks for a person.
const maxRanges = 8

// slot is one step of taking a comma-separated list apart in bash:
// item N is what precedes the first comma of rest Prev.
type slot struct{ N, Prev int }

func slots(n int) []slot {
	out := make([]slot, n)
	for i := range out {
		out[i] = slot{N: i + 1, Prev: i}
	}
	return out
}
