//! The process environment as the AWS SDKs read it: a variable that is set
//! but blank counts as unset. A leaf: it imports nothing of the crate.

/// Reads an environment variable, treating empty as unset.
pub fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}
