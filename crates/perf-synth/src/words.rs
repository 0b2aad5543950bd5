//! Vocabulary for generated messages. Plain data, kept apart from the generator's logic.

/// Channels: name, topic, and the words people use there.
pub(crate) const CHANNELS: &[(&str, &str, &[&str])] = &[
    (
        "general",
        "Anything goes",
        &[
            "weekend",
            "meetup",
            "coffee",
            "weather",
            "project",
            "welcome",
            "today",
            "plans",
            "community",
            "update",
        ],
    ),
    (
        "dev-help",
        "Ask for help with code",
        &[
            "rust",
            "python",
            "compiler",
            "borrow",
            "lifetime",
            "async",
            "tokio",
            "database",
            "query",
            "error",
            "debugging",
            "function",
            "deploy",
            "docker",
            "panic",
            "stacktrace",
        ],
    ),
    (
        "announcements",
        "Server news",
        &[
            "release",
            "event",
            "maintenance",
            "moderators",
            "rules",
            "schedule",
            "stream",
            "giveaway",
            "changelog",
            "roadmap",
        ],
    ),
    (
        "random",
        "Off the wall",
        &[
            "memes", "pizza", "cats", "movies", "sleep", "birthday", "vacation", "music", "photos",
            "jokes",
        ],
    ),
    (
        "gaming",
        "Games and game nights",
        &[
            "raid",
            "tournament",
            "minecraft",
            "speedrun",
            "strategy",
            "league",
            "patch",
            "controller",
            "multiplayer",
            "server",
        ],
    ),
    (
        "music",
        "Share what you listen to",
        &[
            "playlist", "guitar", "album", "concert", "synth", "vinyl", "jazz", "lyrics",
            "spotify", "drums",
        ],
    ),
    (
        "ai-research",
        "Papers, models and experiments",
        &[
            "transformer",
            "embedding",
            "benchmark",
            "dataset",
            "inference",
            "latency",
            "finetuning",
            "tokenizer",
            "retrieval",
            "agents",
            "gradient",
            "evaluation",
        ],
    ),
    (
        "off-topic",
        "Everything else",
        &[
            "books",
            "cooking",
            "travel",
            "fitness",
            "gardening",
            "podcast",
            "coffee",
            "hiking",
            "weather",
            "budget",
        ],
    ),
];

pub(crate) const FIRST_NAMES: &[&str] = &[
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory",
    "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "yara", "zoe",
    "arjun", "bea", "chen", "dmitri", "elena", "farah", "goro", "hana", "ines", "jonas", "kofi",
    "lena", "mateo", "nora", "omar", "priya", "quinn", "rosa", "sami", "tomas", "uma", "vera",
    "wei", "ximena", "yusuf", "zara", "aiko", "bruno", "clara",
];

pub(crate) const NAME_STYLES: &[&str] = &["", "_dev", "42", "_x", ".codes", "_gg", "99", "_irl"];

pub(crate) const OPENERS: &[&str] = &[
    "has anyone tried",
    "I think",
    "quick question about",
    "just finished",
    "can't believe",
    "does anyone know about",
    "hot take:",
    "update on",
    "looking for advice on",
    "really enjoying",
    "struggling with",
    "TIL about",
    "reminder about",
    "thoughts on",
    "shoutout for",
];

pub(crate) const FILLERS: &[&str] = &[
    "the",
    "new",
    "this",
    "our",
    "some",
    "that",
    "a better",
    "the latest",
    "my",
    "your",
];

pub(crate) const CLOSERS: &[&str] = &[
    "any ideas?",
    "so good",
    "lol",
    "thanks everyone!",
    "what do you think?",
    "it finally works",
    "kind of wild",
    "need help",
    "highly recommend",
    "will report back",
    "🙏",
    "😅",
    "🎉",
    "👀",
];

pub(crate) const EMOJI: &[&str] = &[
    "👍",
    "❤️",
    "😂",
    "🎉",
    "🔥",
    "👀",
    "🙏",
    "🚀",
    "✅",
    "💯",
    "👍🏽",
    "🧑‍💻",
];

pub(crate) const CODE_SNIPPETS: &[&str] = &[
    "```rust\nfn main() {\n    println!(\"hello\");\n}\n```",
    "```python\nfor row in rows:\n    print(row)\n```",
    "```sql\nSELECT count(*) FROM messages WHERE channel_id = 1;\n```",
    "`cargo build --release`",
    "```js\nconst x = await fetch(url);\n```",
];

pub(crate) const LINKS: &[&str] = &[
    "https://docs.rs/tokio",
    "https://github.com/rust-lang/rust/issues/1",
    "https://en.wikipedia.org/wiki/Discord",
    "https://arxiv.org/abs/1706.03762",
    "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
];

/// English function words and chat filler that say nothing about a topic, for term counting
/// (content analysis). The reference bot keeps a list of its own.
pub const COMMON_STOP_WORDS: &[&str] = &[
    "the", "and", "for", "that", "this", "with", "you", "have", "has", "are", "was", "but", "not",
    "all", "any", "can", "just", "about", "what", "your", "our", "some", "new", "think", "does",
    "anyone", "know", "tried", "really", "thanks", "will", "lol", "from", "they", "them", "would",
    "could", "should", "been", "were", "there", "their", "into", "how", "who", "why", "when",
    "which", "one", "get", "got", "say",
];

/// Words content analysis ignores besides [`COMMON_STOP_WORDS`]: greetings, link parts and
/// the generator's own chat phrases.
const CHAT_STOP_WORDS: &[&str] = &[
    "everyone",
    "back",
    "kind",
    "wild",
    "need",
    "help",
    "highly",
    "recommend",
    "finally",
    "works",
    "good",
    "ideas",
    "question",
    "quick",
    "finished",
    "believe",
    "take",
    "hot",
    "update",
    "looking",
    "advice",
    "enjoying",
    "struggling",
    "til",
    "reminder",
    "thoughts",
    "shoutout",
    "latest",
    "better",
    "report",
    "https",
    "http",
    "www",
    "com",
    "org",
    "can't",
    "it's",
    "i'm",
    "then",
    "than",
    "out",
    "also",
    "very",
    "much",
    "more",
    "like",
    "yes",
    "yeah",
    "don't",
    "its",
    "let",
    "see",
    "via",
];

/// Whether content analysis ignores `word` (lower case) when counting terms.
pub(crate) fn is_stop_word(word: &str) -> bool {
    COMMON_STOP_WORDS.contains(&word) || CHAT_STOP_WORDS.contains(&word)
}
