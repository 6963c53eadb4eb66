//! The types of condition keys: AWS global keys (`aws:*`) are listed here from the IAM User
//! Guide's "AWS global condition context keys"; service keys come from the action catalog.

/// The type of a condition key, as the Service Authorization Reference names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyType {
    String,
    Arn,
    Numeric,
    Date,
    Bool,
    Ip,
    Binary,
    ArrayOfString,
    ArrayOfArn,
    ArrayOfBool,
}

impl KeyType {
    /// Parses the catalog's type names (`String`, `ARN`, `ArrayOfString`, ...).
    pub fn from_catalog(name: &str) -> Option<KeyType> {
        Some(match name {
            "String" => KeyType::String,
            "ARN" | "Arn" => KeyType::Arn,
            "Numeric" | "Long" | "Integer" => KeyType::Numeric,
            "Date" => KeyType::Date,
            "Bool" | "Boolean" => KeyType::Bool,
            "IPAddress" | "IpAddress" => KeyType::Ip,
            "Binary" => KeyType::Binary,
            "ArrayOfString" => KeyType::ArrayOfString,
            "ArrayOfARN" | "ArrayOfArn" => KeyType::ArrayOfArn,
            "ArrayOfBool" => KeyType::ArrayOfBool,
            _ => return None,
        })
    }

    /// Whether requests may carry several values for the key.
    pub fn is_multivalued(self) -> bool {
        matches!(
            self,
            KeyType::ArrayOfString | KeyType::ArrayOfArn | KeyType::ArrayOfBool
        )
    }

    /// The type's name for messages.
    pub fn name(self) -> &'static str {
        match self {
            KeyType::String => "String",
            KeyType::Arn => "ARN",
            KeyType::Numeric => "Numeric",
            KeyType::Date => "Date",
            KeyType::Bool => "Bool",
            KeyType::Ip => "IPAddress",
            KeyType::Binary => "Binary",
            KeyType::ArrayOfString => "ArrayOfString",
            KeyType::ArrayOfArn => "ArrayOfARN",
            KeyType::ArrayOfBool => "ArrayOfBool",
        }
    }
}

/// Global keys, lower-cased. Keys ending in `/` take a tag key after the slash.
const GLOBAL: &[(&str, KeyType)] = &[
    ("aws:assumedroot", KeyType::Bool),
    ("aws:calledvia", KeyType::ArrayOfString),
    ("aws:calledviafirst", KeyType::String),
    ("aws:calledvialast", KeyType::String),
    ("aws:currenttime", KeyType::Date),
    ("aws:ec2instancesourceprivateipv4", KeyType::Ip),
    ("aws:ec2instancesourcevpc", KeyType::String),
    ("aws:epochtime", KeyType::Date),
    ("aws:federatedprovider", KeyType::String),
    ("aws:multifactorauthage", KeyType::Numeric),
    ("aws:multifactorauthpresent", KeyType::Bool),
    ("aws:principalaccount", KeyType::String),
    ("aws:principalarn", KeyType::Arn),
    ("aws:principalisawsservice", KeyType::Bool),
    ("aws:principalorgid", KeyType::String),
    ("aws:principalorgpaths", KeyType::ArrayOfString),
    ("aws:principalservicename", KeyType::String),
    ("aws:principalservicenameslist", KeyType::ArrayOfString),
    ("aws:principaltag/", KeyType::String),
    ("aws:principaltype", KeyType::String),
    ("aws:referer", KeyType::String),
    ("aws:requestedregion", KeyType::String),
    ("aws:requesttag/", KeyType::String),
    ("aws:resourceaccount", KeyType::String),
    ("aws:resourceorgid", KeyType::String),
    ("aws:resourceorgpaths", KeyType::ArrayOfString),
    ("aws:resourcetag/", KeyType::String),
    ("aws:securetransport", KeyType::Bool),
    ("aws:sourceaccount", KeyType::String),
    ("aws:sourcearn", KeyType::Arn),
    ("aws:sourceidentity", KeyType::String),
    ("aws:sourceip", KeyType::Ip),
    ("aws:sourceorgid", KeyType::String),
    ("aws:sourceorgpaths", KeyType::ArrayOfString),
    ("aws:sourcevpc", KeyType::String),
    ("aws:sourcevpcarn", KeyType::Arn),
    ("aws:sourcevpce", KeyType::String),
    ("aws:tagkeys", KeyType::ArrayOfString),
    ("aws:tokenissuetime", KeyType::Date),
    ("aws:useragent", KeyType::String),
    ("aws:userid", KeyType::String),
    ("aws:username", KeyType::String),
    ("aws:viaawsservice", KeyType::Bool),
    ("aws:vpceaccount", KeyType::String),
    ("aws:vpceorgid", KeyType::String),
    ("aws:vpceorgpaths", KeyType::ArrayOfString),
    ("aws:vpcsourceip", KeyType::Ip),
];

/// The type of a global (`aws:`) key, if AWS defines it.
pub fn global_key_type(key: &str) -> Option<KeyType> {
    let lower = key.to_lowercase();
    GLOBAL.iter().find_map(|(name, ty)| {
        let hit = if name.ends_with('/') {
            lower.starts_with(name) && lower.len() > name.len()
        } else {
            lower == *name
        };
        hit.then_some(*ty)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_global_keys_in_any_case() {
        assert_eq!(
            global_key_type("aws:MultiFactorAuthPresent"),
            Some(KeyType::Bool)
        );
        assert_eq!(
            global_key_type("aws:PrincipalTag/team"),
            Some(KeyType::String)
        );
        assert_eq!(global_key_type("aws:PrincipalTag/"), None);
        assert_eq!(global_key_type("aws:MultiFactorAuthPresnt"), None);
    }
}
