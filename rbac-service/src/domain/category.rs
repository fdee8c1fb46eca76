/// The module a resource belongs to, as in the original platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    Product,
    Order,
    Marketing,
    Permission,
    Content,
    Other,
}

impl Category {
    pub const ALL: [Category; 6] = [
        Self::Product,
        Self::Order,
        Self::Marketing,
        Self::Permission,
        Self::Content,
        Self::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Product => "product",
            Self::Order => "order",
            Self::Marketing => "marketing",
            Self::Permission => "permission",
            Self::Content => "content",
            Self::Other => "other",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == raw)
            .ok_or_else(|| {
                "must be one of product, order, marketing, permission, content, other".to_owned()
            })
    }
}
