//! The AWS regions the canary accepts in its configuration.
//!
//! A typo in a region name ("us-east-9") is the cheapest configuration mistake
//! to catch before any request leaves the process, so names are checked
//! against this list rather than passed to the SDK, which accepts anything.

/// Every region a DynamoDB table can live in, commercial, GovCloud and China.
pub const KNOWN_REGIONS: &[&str] = &[
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "cn-north-1",
    "cn-northwest-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-gov-east-1",
    "us-gov-west-1",
    "us-west-1",
    "us-west-2",
];

/// Whether `name` is a region this canary knows.
pub fn is_known(name: &str) -> bool {
    KNOWN_REGIONS.binary_search(&name).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_is_sorted_so_binary_search_works() {
        let mut sorted = KNOWN_REGIONS.to_vec();
        sorted.sort_unstable();
        assert_eq!(sorted, KNOWN_REGIONS);
    }

    #[test]
    fn typos_are_not_regions() {
        assert!(is_known("us-east-1"));
        assert!(is_known("eu-west-1"));
        assert!(!is_known("us-east-9"));
        assert!(!is_known("US-EAST-1"));
        assert!(!is_known(""));
    }
}
