use serde::{Deserialize, Serialize};

/// What a message database contains, as read by content analysis. Query generators and
/// scenarios use it to ask about real channels, users and terms, and to know the right
/// answers in advance.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContentProfile {
    /// Messages in the database.
    pub total_messages: u64,
    /// Channels with at least one message, busiest first.
    pub channels: Vec<ChannelStat>,
    /// Users with at least one message, busiest first.
    pub users: Vec<UserStat>,
    /// Most frequent content terms (stop words removed), most frequent first.
    pub top_terms: Vec<TermStat>,
    /// Timestamp of the first message, Unix seconds.
    pub first_message_at: i64,
    /// Timestamp of the last message, Unix seconds.
    pub last_message_at: i64,
}

impl ContentProfile {
    /// Number of channels with messages.
    pub fn active_channels(&self) -> usize {
        self.channels.len()
    }

    /// Number of users with messages.
    pub fn active_users(&self) -> usize {
        self.users.len()
    }

    /// Days between the first and the last message.
    pub fn span_days(&self) -> f64 {
        (self.last_message_at - self.first_message_at).max(0) as f64 / 86_400.0
    }
}

/// Activity of one channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelStat {
    /// Channel name, without `#`.
    pub name: String,
    /// Messages in the channel.
    pub messages: u64,
}

/// Activity of one user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserStat {
    /// User name.
    pub name: String,
    /// Messages by the user.
    pub messages: u64,
}

/// A frequent term.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TermStat {
    /// The term, lower case.
    pub term: String,
    /// Occurrences.
    pub count: u64,
}
