package remediate

import (
	"strings"

	"github.com/optix-bot/optix-bot/posture"
)

const (
	acct    = "111122223333"
	region  = "eu-west-1"
	azSub   = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
	gcpProj = "optix-demo-prod"
)

func awsFinding(check, resID string) *posture.Finding {
	return &posture.Finding{
		ID: posture.FindingID("aws", acct, check, resID), Source: "optix", Check: check, Provider: "aws",
		Account: acct, Region: region, Status: posture.StatusOpen,
		Resource: posture.Resource{ID: resID, Region: region},
	}
}

// fixtures are one finding per check kind the templates cover, shaped as
// the importers and the Sophos client produce them.
func fixtures() map[string]*posture.Finding {
	fx := map[string]*posture.Finding{}
	for _, c := range []string{"s3_bucket_public_access", "s3_bucket_public_list_acl", "s3_bucket_public_write_acl",
		"s3_bucket_policy_public_write_access", "s3_bucket_level_public_access_block", "s3_bucket_default_encryption",
		"s3_bucket_kms_encryption", "s3_bucket_object_versioning", "s3_bucket_server_access_logging_enabled"} {
		fx[c] = awsFinding(c, "arn:aws:s3:::acme-prod-exports")
	}
	for _, c := range []string{"ec2_securitygroup_allow_ingress_from_internet_to_tcp_port_22",
		"ec2_securitygroup_allow_ingress_from_internet_to_tcp_port_3389",
		"ec2_securitygroup_allow_ingress_from_internet_to_all_ports"} {
		fx[c] = awsFinding(c, "arn:aws:ec2:"+region+":"+acct+":security-group/sg-0a1b2c3d4e5f67890")
	}
	anyPort := awsFinding("ec2_securitygroup_allow_ingress_from_internet_to_any_port", "sg-0a1b2c3d")
	anyPort.Resource.OpenPorts = []int{5432, 9200}
	fx[anyPort.Check] = anyPort
	fx["rds_instance_storage_encrypted"] = awsFinding("rds_instance_storage_encrypted", "arn:aws:rds:"+region+":"+acct+":db:orders-db")
	fx["rds_instance_no_public_access"] = awsFinding("rds_instance_no_public_access", "arn:aws:rds:"+region+":"+acct+":db:orders-db")
	fx["ec2_ebs_default_encryption"] = awsFinding("ec2_ebs_default_encryption", "arn:aws:ec2:"+region+":"+acct+":volume")
	fx["ec2_ebs_volume_encryption"] = awsFinding("ec2_ebs_volume_encryption", "arn:aws:ec2:"+region+":"+acct+":volume/vol-0123456789abcdef0")
	fx["iam_customer_attached_policy_no_administrative_privileges"] = awsFinding("iam_customer_attached_policy_no_administrative_privileges", "arn:aws:iam::"+acct+":policy/ci/deploy-everything")
	fx["iam_policy_allows_privilege_escalation"] = awsFinding("iam_policy_allows_privilege_escalation", "arn:aws:iam::"+acct+":policy/ops-helper")
	inline := awsFinding("iam_inline_policy_no_administrative_privileges", "arn:aws:iam::"+acct+":role/service/batch-runner")
	inline.Resource.Name = "batch-runner/allow-all"
	fx[inline.Check] = inline
	fx["iam_user_mfa_enabled_console_access"] = awsFinding("iam_user_mfa_enabled_console_access", "arn:aws:iam::"+acct+":user/alice")
	fx["iam_rotate_access_key_90_days"] = awsFinding("iam_rotate_access_key_90_days", "arn:aws:iam::"+acct+":user/build-bot")
	// Cloud Optix reports every IAM finding in region "global".
	for c, f := range fx {
		if strings.HasPrefix(c, "iam_") {
			f.Region, f.Resource.Region = "global", "global"
		}
	}
	fx["cloudtrail_multi_region_enabled"] = awsFinding("cloudtrail_multi_region_enabled", "arn:aws:cloudtrail:"+region+":"+acct+":trail/management-events")
	fx["resource_missing_required_tags"] = awsFinding("resource_missing_required_tags", "arn:aws:lambda:"+region+":"+acct+":function:thumbnailer")

	az := func(check, id string) *posture.Finding {
		return &posture.Finding{ID: posture.FindingID("azure", azSub, check, id), Source: "prowler", Check: check,
			Provider: "azure", Account: azSub, Region: "westeurope", Status: posture.StatusOpen,
			Resource: posture.Resource{ID: id}}
	}
	sa := "/subscriptions/" + azSub + "/resourceGroups/rg-data/providers/Microsoft.Storage/storageAccounts/acmedatalake01"
	fx["storage_blob_public_access_level_is_disabled"] = az("storage_blob_public_access_level_is_disabled", sa)
	fx["storage_secure_transfer_required_is_enabled"] = az("storage_secure_transfer_required_is_enabled", sa)
	nsg := "/subscriptions/" + azSub + "/resourceGroups/rg-web/providers/Microsoft.Network/networkSecurityGroups/web-nsg"
	fx["network_ssh_internet_access_restricted"] = az("network_ssh_internet_access_restricted", nsg)
	fx["network_rdp_internet_access_restricted"] = az("network_rdp_internet_access_restricted", nsg)

	gcp := func(check, id string) *posture.Finding {
		return &posture.Finding{ID: posture.FindingID("gcp", gcpProj, check, id), Source: "prowler", Check: check,
			Provider: "gcp", Account: gcpProj, Region: "global", Status: posture.StatusOpen,
			Resource: posture.Resource{ID: id}}
	}
	fx["cloudstorage_bucket_public_access"] = gcp("cloudstorage_bucket_public_access", "acme-public-assets")
	fx["compute_firewall_ssh_access_from_the_internet_allowed"] = gcp("compute_firewall_ssh_access_from_the_internet_allowed",
		"https://www.googleapis.com/compute/v1/projects/"+gcpProj+"/global/firewalls/allow-ssh")
	fx["compute_firewall_rdp_access_from_the_internet_allowed"] = gcp("compute_firewall_rdp_access_from_the_internet_allowed",
		"projects/"+gcpProj+"/global/firewalls/allow-rdp")
	return fx
}
