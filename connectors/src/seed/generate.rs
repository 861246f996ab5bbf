//! Deterministic synthetic-city generator for seeding the hub.
//!
//! This module owns the in-memory generation of a believable urban district in
//! China (Hefei-like, area codes `3401xx`): subdistricts (街道), communities
//! (社区), grids (网格), buildings, households, residents and the city
//! departments that serve them. It does no I/O and knows nothing about Neo4j;
//! callers turn the returned [`City`] rows into nodes and relationships.
//!
//! Everything is driven by one `ChaCha8Rng` seeded from [`CityParams::seed`]
//! and a fixed reference date of 2026-01-01, so the same [`CityParams`] always
//! produce the same, byte-identical [`City`].

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

// ---------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CityParams {
    /// Exact number of residents in the city.
    pub residents: usize,
    /// Seed for the deterministic random number generator.
    pub seed: u64,
}

/// A generated city: flat row tables linked by string foreign keys.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct City {
    pub subdistricts: Vec<SubdistrictRow>,
    pub communities: Vec<CommunityRow>,
    pub grids: Vec<GridRow>,
    pub buildings: Vec<BuildingRow>,
    pub households: Vec<HouseholdRow>,
    pub residents: Vec<ResidentRow>,
    pub departments: Vec<DepartmentRow>,
}

/// A subdistrict (街道), e.g. `S01` "三里庵街道".
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SubdistrictRow {
    pub id: String,
    pub name: String,
    pub code: String,
}

/// A community (社区) inside a subdistrict.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CommunityRow {
    pub id: String,
    pub name: String,
    pub code: String,
    pub subdistrict_id: String,
}

/// A grid (网格) inside a community, holding 300–500 households.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GridRow {
    pub id: String,
    pub name: String,
    pub code: String,
    pub grid_worker: Option<String>,
    pub community_id: String,
}

/// A residential building inside a grid.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildingRow {
    pub id: String,
    pub address: String,
    pub year_built: i64,
    pub floors: i64,
    pub old_compound: bool,
    /// "A" | "B" | "C" | "D"
    pub safety_grade: &'static str,
    pub grid_id: String,
}

/// A registered household (户) living in one flat of a building.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HouseholdRow {
    pub id: String,
    pub household_number: String,
    /// "unit-floor+room", e.g. "3-502".
    pub unit: String,
    pub member_count: i64,
    pub building_id: String,
}

/// A resident (居民).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResidentRow {
    pub id: String,
    pub name: String,
    /// 18-character resident identity card number (GB 11643).
    pub id_number: String,
    /// YYYY-MM-DD
    pub birth_date: String,
    /// "MALE" | "FEMALE"
    pub sex: &'static str,
    pub phone: Option<String>,
    /// "LOCAL" | "MIGRANT"
    pub hukou_type: &'static str,
    /// e.g. "汉族"
    pub ethnicity: String,
    pub occupation: Option<String>,
    /// "NONE" | "GRADE_1" | "GRADE_2" | "GRADE_3" | "GRADE_4"
    pub disability_status: &'static str,
    pub low_income: bool,
    pub elderly_living_alone: bool,
    pub household_id: String,
    /// HEAD SPOUSE CHILD PARENT GRANDCHILD GRANDPARENT SIBLING CHILD_IN_LAW OTHER
    pub relation_to_head: &'static str,
}

/// A government department and the areas it serves.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DepartmentRow {
    pub id: String,
    pub name: String,
    /// CIVIL_AFFAIRS PUBLIC_SECURITY HEALTH EDUCATION HOUSING HUMAN_RESOURCES
    /// GRID_MANAGEMENT STREET_OFFICE
    pub code: &'static str,
    /// "DISTRICT" | "SUBDISTRICT"
    pub level: &'static str,
    pub serves_subdistricts: Vec<String>,
    pub serves_communities: Vec<String>,
    pub serves_grids: Vec<String>,
}

/// GB 11643 check character for the first 17 digits.
///
/// Returns `None` unless `first17` is exactly 17 ASCII digits.
pub fn id_check_char(first17: &str) -> Option<char> {
    let bytes = first17.as_bytes();
    if bytes.len() != 17 || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut digits = [0u8; 17];
    for (d, b) in digits.iter_mut().zip(bytes) {
        *d = b - b'0';
    }
    Some(check_char_of(&digits))
}

/// Generates a whole city. Deterministic in `params`.
pub fn generate(params: &CityParams) -> City {
    let mut g = Gen::new(params);
    g.open_subdistrict();
    g.open_community();
    g.open_grid();
    let mut remaining = params.residents;
    while remaining > 0 {
        if g.flat_cursor >= g.flats.len() {
            g.open_building();
        }
        let placed = g.household(remaining);
        remaining = remaining.saturating_sub(placed.max(1));
    }
    g.finish()
}

// ---------------------------------------------------------------------------
// Constants and reference tables
// ---------------------------------------------------------------------------

/// Reference "today": 2026-01-01.
const TODAY: (i32, u32, u32) = (2026, 1, 1);
/// Code of the generated district (合肥市蜀山区).
const DISTRICT_CODE: &str = "340104";
const GRID_MIN_HOUSEHOLDS: usize = 300;
const GRID_MAX_HOUSEHOLDS: usize = 500;
const BUILDING_MIN_HOUSEHOLDS: usize = 12;
const BUILDING_MAX_HOUSEHOLDS: usize = 120;
const ELDERLY_AGE: i32 = 65;
/// Target share of buildings that are old walk-up compounds.
const OLD_COMPOUND_SHARE: f64 = 0.3;
const MAX_AGE: i32 = 100;

const HEAD: &str = "HEAD";
const SPOUSE: &str = "SPOUSE";
const CHILD: &str = "CHILD";
const PARENT: &str = "PARENT";
const GRANDCHILD: &str = "GRANDCHILD";
const GRANDPARENT: &str = "GRANDPARENT";
const SIBLING: &str = "SIBLING";
const CHILD_IN_LAW: &str = "CHILD_IN_LAW";
const OTHER: &str = "OTHER";

const ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK_MAP: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];

/// Household size distribution (per mille), close to urban census figures;
/// mean ≈ 2.6.
const HOUSEHOLD_SIZES: &[(usize, u32)] =
    &[(1, 240), (2, 290), (3, 230), (4, 140), (5, 65), (6, 35)];

/// Surnames with approximate frequency (in 0.01 %).
const SURNAMES: &[(&str, u32)] = &[
    ("王", 710),
    ("李", 700),
    ("张", 670),
    ("刘", 540),
    ("陈", 450),
    ("杨", 310),
    ("黄", 220),
    ("赵", 220),
    ("吴", 200),
    ("周", 190),
    ("徐", 170),
    ("孙", 150),
    ("马", 150),
    ("朱", 130),
    ("胡", 130),
    ("郭", 120),
    ("何", 120),
    ("林", 110),
    ("高", 110),
    ("罗", 100),
    ("郑", 90),
    ("梁", 90),
    ("谢", 80),
    ("宋", 70),
    ("唐", 70),
    ("许", 70),
    ("韩", 70),
    ("冯", 70),
    ("邓", 70),
    ("曹", 60),
    ("彭", 60),
    ("曾", 60),
    ("肖", 60),
    ("田", 50),
    ("董", 50),
    ("袁", 50),
    ("潘", 50),
    ("于", 50),
    ("蒋", 50),
    ("蔡", 50),
    ("余", 50),
    ("杜", 50),
    ("叶", 40),
    ("程", 40),
    ("苏", 40),
    ("魏", 40),
    ("吕", 40),
    ("丁", 40),
    ("任", 40),
    ("沈", 40),
    ("姚", 40),
    ("卢", 40),
    ("姜", 30),
    ("崔", 30),
    ("钟", 30),
    ("谭", 30),
    ("陆", 30),
    ("汪", 45),
    ("范", 30),
    ("金", 30),
    ("石", 30),
    ("廖", 30),
    ("贾", 30),
    ("夏", 30),
    ("韦", 30),
    ("付", 30),
    ("方", 30),
    ("白", 30),
    ("邹", 30),
    ("孟", 30),
    ("熊", 30),
    ("秦", 30),
    ("邱", 30),
    ("江", 30),
    ("尹", 30),
    ("薛", 20),
    ("闫", 20),
    ("段", 20),
    ("雷", 20),
    ("侯", 20),
    ("龙", 20),
    ("史", 20),
    ("陶", 20),
    ("黎", 20),
    ("贺", 20),
    ("顾", 20),
    ("毛", 20),
    ("郝", 20),
    ("龚", 20),
    ("邵", 20),
    ("万", 20),
    ("钱", 20),
    ("严", 20),
    ("武", 20),
    ("戴", 20),
    ("孔", 20),
    ("汤", 20),
    ("欧阳", 5),
    ("诸葛", 1),
];

const MALE_SINGLE: &[&str] = &[
    "伟", "强", "磊", "军", "勇", "杰", "涛", "斌", "超", "明", "刚", "平", "辉", "鹏", "华", "飞",
    "鑫", "波", "宇", "浩", "凯", "健", "俊", "帆", "帅", "旭", "宁", "龙", "林", "峰", "亮", "成",
    "东", "海", "兵", "坤", "毅", "晨", "阳", "博",
];
const FEMALE_SINGLE: &[&str] = &[
    "芳", "娜", "敏", "静", "丽", "艳", "娟", "霞", "秀", "英", "玲", "婷", "雪", "慧", "莹", "晶",
    "颖", "倩", "琳", "洁", "欣", "怡", "佳", "梅", "燕", "红", "萍", "丹", "蕾", "璐", "薇", "媛",
];
const MALE_FIRST: &[&str] = &[
    "志", "建", "国", "俊", "文", "家", "子", "浩", "宇", "明", "永", "晓", "海", "天", "嘉", "博",
    "思", "振", "立", "世", "德", "新", "金", "伟", "春", "云", "宏", "学",
];
const FEMALE_FIRST: &[&str] = &[
    "秀", "晓", "雅", "美", "欣", "思", "雨", "诗", "佳", "丽", "春", "玉", "淑", "桂", "海", "婉",
    "梦", "慧", "静", "凤", "月", "冰", "晶", "彩", "紫", "文", "红", "小",
];
const MALE_OLD: &[&str] = &[
    "建国", "国强", "建华", "志强", "德明", "国华", "卫东", "建军", "振华", "永强", "国庆", "树林",
    "宝山", "金生", "长青", "德福", "有才", "福生", "兴华", "跃进",
];
const FEMALE_OLD: &[&str] = &[
    "秀英", "桂英", "淑珍", "玉兰", "桂兰", "凤英", "秀兰", "秀珍", "玉梅", "桂芳", "淑华", "玉珍",
    "凤兰", "美华", "素芬", "桂珍", "秀云", "翠英",
];
const MALE_YOUNG: &[&str] = &[
    "子轩", "浩然", "宇轩", "梓睿", "俊熙", "沐宸", "一诺", "子墨", "浩宇", "宇航", "皓轩", "奕辰",
    "铭泽", "梓豪", "思远", "睿泽", "博文", "天佑", "承泽", "锦程",
];
const FEMALE_YOUNG: &[&str] = &[
    "子涵", "梓萱", "欣怡", "诗涵", "雨桐", "梓涵", "一诺", "可馨", "语桐", "依诺", "梦琪", "思彤",
    "欣妍", "若汐", "芷若", "悦溪", "沐瑶", "佳怡", "雨萱", "紫涵",
];

/// Local (Hefei) area codes, weighted towards the generated district.
const LOCAL_AREAS: &[(u32, u32)] = &[
    (340104, 45),
    (340103, 10),
    (340102, 9),
    (340111, 10),
    (340121, 5),
    (340122, 7),
    (340123, 7),
    (340124, 3),
    (340181, 4),
];

/// Area codes of migrants' home counties in other provinces.
const MIGRANT_AREAS: &[(u32, u32)] = &[
    (410526, 8),
    (411323, 6),
    (412726, 7),
    (411721, 5),
    (410102, 4),
    (320382, 6),
    (321323, 5),
    (320102, 2),
    (330106, 2),
    (360731, 5),
    (360102, 2),
    (370102, 2),
    (420102, 2),
    (421023, 4),
    (430102, 2),
    (440106, 1),
    (450102, 1),
    (500101, 3),
    (510107, 2),
    (511321, 4),
    (520102, 1),
    (130102, 1),
    (230102, 1),
];

/// Minority ethnic groups, weighted by national population with Hui boosted
/// (the largest minority in Anhui).
const MINORITIES: &[(&str, u32)] = &[
    ("回族", 30),
    ("满族", 10),
    ("壮族", 12),
    ("苗族", 8),
    ("蒙古族", 6),
    ("土家族", 7),
    ("维吾尔族", 4),
    ("彝族", 4),
    ("藏族", 3),
    ("侗族", 3),
    ("布依族", 3),
    ("瑶族", 2),
    ("白族", 2),
    ("朝鲜族", 2),
    ("畲族", 2),
];

/// Occupations for working-age adults: (name, male weight, female weight,
/// multiplier in percent applied to migrants).
const OCCUPATIONS: &[(&str, u32, u32, u32)] = &[
    ("工人", 120, 70, 160),
    ("个体经营者", 90, 80, 150),
    ("公司职员", 80, 100, 80),
    ("公务员", 40, 30, 15),
    ("教师", 25, 60, 40),
    ("医生", 20, 20, 30),
    ("护士", 2, 40, 50),
    ("司机", 60, 5, 150),
    ("快递员", 45, 8, 250),
    ("外卖骑手", 40, 5, 250),
    ("程序员", 50, 20, 60),
    ("工程师", 50, 15, 60),
    ("销售", 60, 80, 120),
    ("会计", 10, 45, 60),
    ("厨师", 25, 10, 150),
    ("保安", 30, 3, 150),
    ("家政服务员", 1, 40, 250),
    ("服务员", 15, 40, 180),
    ("自由职业", 15, 15, 100),
    ("无业", 25, 45, 60),
];

const PHONE_PREFIXES: &[&str] = &[
    "130", "131", "132", "133", "134", "135", "136", "137", "138", "139", "150", "151", "152",
    "153", "155", "156", "157", "158", "159", "166", "170", "173", "175", "176", "177", "178",
    "180", "181", "182", "183", "184", "185", "186", "187", "188", "189", "191", "198", "199",
];

const SUBDISTRICT_BASES: &[&str] = &[
    "三里庵",
    "西园",
    "南七",
    "稻香村",
    "琥珀",
    "五里墩",
    "荷叶地",
    "笔架山",
    "井岗",
    "小庙",
    "高刘",
    "杏花村",
    "双岗",
    "亳州路",
    "海棠",
    "七里站",
    "大兴",
    "三孝口",
    "逍遥津",
    "杏林",
    "芜湖路",
    "包公",
    "望湖",
    "常青",
    "淝河",
    "方庙",
    "滨湖",
    "烟墩",
    "骆岗",
    "龙岗",
    "大杨",
    "磨店",
    "义井",
    "花冲",
    "清溪",
    "丁香",
    "明珠",
    "桃花",
    "紫蓬",
    "长江",
];
const COMMUNITY_BASES: &[&str] = &[
    "安居苑",
    "翠竹园",
    "桂花园",
    "幸福里",
    "和平",
    "光明",
    "朝阳",
    "春晖",
    "梅园",
    "荷塘",
    "杏坛",
    "明月",
    "金桥",
    "银杏",
    "枫林",
    "松苑",
    "清水",
    "南湖",
    "竹园",
    "东风",
    "红星",
    "友谊",
    "新华",
    "建设",
    "团结",
    "振兴",
    "文化",
    "花园",
    "绿洲",
    "滨河",
    "琥珀山",
    "望江",
    "稻香",
    "青年",
    "锦绣",
    "凤凰",
    "芙蓉",
    "华苑",
    "丽景",
    "书香",
    "紫云",
    "三里街",
    "五里井",
    "杨林",
    "七里塘",
    "海棠湾",
    "玉兰",
    "香樟",
    "枫叶",
    "丹桂",
    "怡景",
    "康乐",
    "长青",
    "永红",
    "胜利",
    "工人村",
    "科苑",
    "学府",
    "西市",
    "东湖",
    "蜀麓",
    "芳草",
    "百花",
    "桃园",
    "梨园",
    "柳岸",
    "紫荆",
    "金色家园",
    "翡翠",
    "龙川",
    "潜山",
    "安庆里",
    "黄山",
    "琅琊",
    "九华",
];
const COMMUNITY_SUFFIXES: &[&str] = &["", "东", "西", "南", "北", "中"];
const ROAD_BASES: &[&str] = &[
    "黄山",
    "潜山",
    "望江",
    "金寨",
    "宁国",
    "肥西",
    "长丰",
    "霍山",
    "岳西",
    "青阳",
    "怀宁",
    "桐城",
    "寿春",
    "六安",
    "芜湖",
    "马鞍山",
    "宿松",
    "太湖",
    "舒城",
    "庐江",
    "巢湖",
    "繁华",
    "翡翠",
    "天鹅湖",
    "香樟",
    "玉兰",
    "枫林",
    "紫云",
    "习友",
    "休宁",
    "屯溪",
    "祁门",
    "合作化",
    "安庆",
    "徽州",
    "蒙城",
    "阜阳",
    "濉溪",
    "淮河",
    "长江",
    "宿州",
    "凤阳",
    "明光",
    "含山",
    "当涂",
    "泾县",
    "绩溪",
    "歙县",
    "石台",
    "南陵",
];
const ROAD_SUFFIXES: &[&str] = &["路", "东路", "西路", "南路", "北路", "中路", "支路"];

const DISTRICT_DEPARTMENTS: &[(&str, &str)] = &[
    ("CIVIL_AFFAIRS", "民政局"),
    ("PUBLIC_SECURITY", "公安局"),
    ("HEALTH", "卫生健康委员会"),
    ("EDUCATION", "教育局"),
    ("HOUSING", "住房和城乡建设局"),
    ("HUMAN_RESOURCES", "人力资源和社会保障局"),
];

// ---------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------

fn check_char_of(digits: &[u8; 17]) -> char {
    let sum: u32 = digits
        .iter()
        .zip(ID_WEIGHTS)
        .map(|(&d, w)| u32::from(d) * w)
        .sum();
    ID_CHECK_MAP[(sum % 11) as usize]
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant).
fn days_from_civil(y: i32, m: u32, d: u32) -> i64 {
    let y = i64::from(y) - i64::from(m <= 2);
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = i64::from(m);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Inverse of [`days_from_civil`].
fn civil_from_days(z: i64) -> (i32, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y as i32, m as u32, d as u32)
}

/// Age in completed years on the reference date.
fn age_on_today(y: i32, m: u32, d: u32) -> i32 {
    TODAY.0 - y - i32::from((m, d) > (TODAY.1, TODAY.2))
}

/// Appends `n` in decimal, zero-padded to at least `width` digits (≤ 20).
/// A hand-rolled `format!("{n:0width$}")` for the hot per-resident paths.
fn push_padded(out: &mut String, n: u64, width: usize) {
    let mut buf = [b'0'; 20];
    let mut i = buf.len();
    let mut v = n;
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 || i == 0 {
            break;
        }
    }
    let start = i.min(buf.len() - width.min(buf.len()));
    for &b in &buf[start..] {
        out.push(char::from(b));
    }
}

/// `prefix` followed by `n` zero-padded to `width` digits, e.g. `R00000042`.
fn padded_id(prefix: &str, n: u64, width: usize) -> String {
    let mut s = String::with_capacity(prefix.len() + width);
    s.push_str(prefix);
    push_padded(&mut s, n, width);
    s
}

/// `x` limited to `[lo, hi]`; never panics (returns `hi` if the range is empty).
fn bound(x: i32, lo: i32, hi: i32) -> i32 {
    x.max(lo).min(hi)
}

/// A weighted choice table built once from a static slice.
struct Table<T: 'static> {
    items: &'static [T],
    cum: Vec<u32>,
    total: u32,
}

impl<T: 'static> Table<T> {
    fn new(items: &'static [T], weight: impl Fn(&T) -> u32) -> Self {
        let mut total = 0u32;
        let cum = items
            .iter()
            .map(|it| {
                total += weight(it);
                total
            })
            .collect();
        Self { items, cum, total }
    }

    fn pick_index(&self, rng: &mut ChaCha8Rng) -> usize {
        if self.total == 0 {
            return 0;
        }
        let r = rng.random_range(0..self.total);
        self.cum
            .partition_point(|&c| c <= r)
            .min(self.items.len().saturating_sub(1))
    }

    fn pick(&self, rng: &mut ChaCha8Rng) -> &'static T {
        let items: &'static [T] = self.items;
        &items[self.pick_index(rng)]
    }
}

/// Hands out unique names: a shuffled base list, then the same bases with
/// successive suffixes, then numbered.
struct NamePool {
    order: Vec<&'static str>,
    suffixes: &'static [&'static str],
    next: usize,
}

impl NamePool {
    fn new(
        rng: &mut ChaCha8Rng,
        bases: &'static [&'static str],
        suffixes: &'static [&'static str],
    ) -> Self {
        let mut order = bases.to_vec();
        shuffle(rng, &mut order);
        Self {
            order,
            suffixes,
            next: 0,
        }
    }

    fn take(&mut self) -> String {
        let len = self.order.len().max(1);
        let round = self.next / len;
        let idx = self.next % len;
        self.next += 1;
        let mut s = String::from(self.order.get(idx).copied().unwrap_or("新建"));
        match self.suffixes.get(round) {
            Some(sfx) => s.push_str(sfx),
            None => {
                s.push_str(self.suffixes.last().copied().unwrap_or(""));
                s.push_str(&(round + 1).to_string());
            }
        }
        s
    }
}

/// Multiplicative hasher for the `u64` identity-number keys; much cheaper
/// than SipHash and deterministic (the set is only used for membership).
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type KeySet = HashSet<u64, BuildHasherDefault<KeyHasher>>;

fn shuffle<T>(rng: &mut ChaCha8Rng, v: &mut [T]) {
    for i in (1..v.len()).rev() {
        let j = rng.random_range(0..=i as u32) as usize;
        v.swap(i, j);
    }
}

// ---------------------------------------------------------------------------
// Generator
// ---------------------------------------------------------------------------

/// One planned household member before it becomes a [`ResidentRow`].
#[derive(Debug, Clone, Copy)]
struct Draft {
    rel: &'static str,
    age: i32,
    male: bool,
    surname: &'static str,
}

/// The head couple (or single parent) of a household, for deriving children.
#[derive(Debug, Clone, Copy)]
struct Parents {
    older: i32,
    younger: i32,
    father: &'static str,
    mother: &'static str,
}

/// Household-wide attributes shared by all members.
struct HouseholdCtx {
    id: String,
    size: usize,
    migrant: bool,
    home_area: usize,
    ethnicity: &'static str,
    low_income: bool,
}

struct Gen {
    rng: ChaCha8Rng,
    city: City,
    used_ids: KeySet,

    sizes: Table<(usize, u32)>,
    surnames: Table<(&'static str, u32)>,
    local_areas: Table<(u32, u32)>,
    migrant_areas: Table<(u32, u32)>,
    minorities: Table<(&'static str, u32)>,
    /// Occupation tables indexed by `male as usize * 2 + migrant as usize`.
    occupations: [Table<(&'static str, u32, u32, u32)>; 4],

    subdistrict_names: NamePool,
    community_names: NamePool,
    road_names: NamePool,
    /// Bare subdistrict names (without 街道), parallel to `city.subdistricts`.
    subdistrict_bare: Vec<String>,
    /// Subdistrict index of every community.
    community_subdistrict: Vec<usize>,
    /// Community index of every grid.
    grid_community: Vec<usize>,
    /// Road of every community (index = community index).
    roads: Vec<String>,
    /// Next house number of every road.
    road_next: Vec<u32>,

    sub_target_communities: usize,
    sub_communities: usize,
    comm_target_grids: usize,
    comm_grids: usize,
    comm_old_share: f64,
    /// Number of old-compound buildings so far.
    old_buildings: usize,
    comm_road: usize,
    grid_target: usize,
    grid_households: usize,

    /// Occupied flats (unit, floor, room) of the current building.
    flats: Vec<(u32, u32, u32)>,
    flat_cursor: usize,
    building_old: bool,
    household_number: u64,
}

impl Gen {
    fn new(params: &CityParams) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
        let subdistrict_names = NamePool::new(&mut rng, SUBDISTRICT_BASES, COMMUNITY_SUFFIXES);
        let community_names = NamePool::new(&mut rng, COMMUNITY_BASES, COMMUNITY_SUFFIXES);
        let road_names = NamePool::new(&mut rng, ROAD_BASES, ROAD_SUFFIXES);
        let household_number = 100_000_000 + u64::from(rng.random_range(0..5_000_000u32));
        let expected_households = params.residents / 2 + 1;
        let occ = |male: bool, migrant: bool| {
            Table::new(OCCUPATIONS, move |&(_, wm, wf, mf)| {
                let w = if male { wm } else { wf };
                if migrant {
                    w * mf / 100
                } else {
                    w
                }
            })
        };
        Self {
            rng,
            city: City {
                subdistricts: Vec::new(),
                communities: Vec::new(),
                grids: Vec::new(),
                buildings: Vec::with_capacity(expected_households / 40 + 1),
                households: Vec::with_capacity(expected_households),
                residents: Vec::with_capacity(params.residents),
                departments: Vec::new(),
            },
            used_ids: KeySet::with_capacity_and_hasher(
                params.residents,
                BuildHasherDefault::default(),
            ),
            sizes: Table::new(HOUSEHOLD_SIZES, |&(_, w)| w),
            surnames: Table::new(SURNAMES, |&(_, w)| w),
            local_areas: Table::new(LOCAL_AREAS, |&(_, w)| w),
            migrant_areas: Table::new(MIGRANT_AREAS, |&(_, w)| w),
            minorities: Table::new(MINORITIES, |&(_, w)| w),
            occupations: [
                occ(false, false),
                occ(false, true),
                occ(true, false),
                occ(true, true),
            ],
            subdistrict_names,
            community_names,
            road_names,
            subdistrict_bare: Vec::new(),
            community_subdistrict: Vec::new(),
            grid_community: Vec::new(),
            roads: Vec::new(),
            road_next: Vec::new(),
            sub_target_communities: 0,
            sub_communities: 0,
            comm_target_grids: 0,
            comm_grids: 0,
            comm_old_share: OLD_COMPOUND_SHARE,
            old_buildings: 0,
            comm_road: 0,
            grid_target: 0,
            grid_households: 0,
            flats: Vec::new(),
            flat_cursor: 0,
            building_old: false,
            household_number,
        }
    }

    // -- randomness ---------------------------------------------------------

    /// Uniform integer in `[lo, hi]`; `lo` if the range is empty.
    fn r(&mut self, lo: i32, hi: i32) -> i32 {
        if hi <= lo {
            lo
        } else {
            self.rng.random_range(lo..=hi)
        }
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng.random::<f64>() < p
    }

    fn surname(&mut self) -> &'static str {
        self.surnames.pick(&mut self.rng).0
    }

    fn pick_str(&mut self, list: &'static [&'static str]) -> &'static str {
        if list.is_empty() {
            return "";
        }
        let i = self.rng.random_range(0..list.len() as u32) as usize;
        list.get(i).copied().unwrap_or("")
    }

    /// Appends a given name suited to the sex and birth cohort to `out`.
    fn given_name(&mut self, out: &mut String, male: bool, birth_year: i32) {
        let (single, first, old, young) = if male {
            (MALE_SINGLE, MALE_FIRST, MALE_OLD, MALE_YOUNG)
        } else {
            (FEMALE_SINGLE, FEMALE_FIRST, FEMALE_OLD, FEMALE_YOUNG)
        };
        let roll = self.r(0, 99);
        let (p_single, p_era, era) = if birth_year < 1965 {
            (25, 50, old)
        } else if birth_year < 2005 {
            (30, 0, young)
        } else {
            (8, 55, young)
        };
        if roll < p_single {
            out.push_str(self.pick_str(single));
        } else if roll < p_single + p_era {
            out.push_str(self.pick_str(era));
        } else {
            out.push_str(self.pick_str(first));
            out.push_str(self.pick_str(single));
        }
    }

    fn full_name(&mut self, surname: &str, male: bool, birth_year: i32) -> String {
        let mut s = String::with_capacity(surname.len() + 6);
        s.push_str(surname);
        self.given_name(&mut s, male, birth_year);
        s
    }

    // -- administrative structure ------------------------------------------

    fn open_subdistrict(&mut self) {
        let n = self.city.subdistricts.len() + 1;
        let bare = self.subdistrict_names.take();
        self.city.subdistricts.push(SubdistrictRow {
            id: format!("S{n:02}"),
            name: format!("{bare}街道"),
            code: format!("{DISTRICT_CODE}{n:03}"),
        });
        self.subdistrict_bare.push(bare);
        self.sub_target_communities = self.r(4, 8) as usize;
        self.sub_communities = 0;
    }

    fn open_community(&mut self) {
        if self.sub_communities >= self.sub_target_communities {
            self.open_subdistrict();
        }
        self.sub_communities += 1;
        let n = self.city.communities.len() + 1;
        let sub_idx = self.city.subdistricts.len().saturating_sub(1);
        let (sub_id, sub_code) = self
            .city
            .subdistricts
            .last()
            .map(|s| (s.id.clone(), s.code.clone()))
            .unwrap_or_default();
        let base = self.community_names.take();
        self.city.communities.push(CommunityRow {
            id: format!("C{n:04}"),
            name: format!("{base}社区"),
            code: format!("{sub_code}{:03}", self.sub_communities),
            subdistrict_id: sub_id,
        });
        self.community_subdistrict.push(sub_idx);
        self.comm_target_grids = self.r(5, 10) as usize;
        self.comm_grids = 0;
        // Some communities are mostly old walk-up compounds, some mostly new
        // towers; the city-wide share of old compounds averages 30 %.
        self.comm_old_share = f64::from(self.r(15, 45)) / 100.0;
        let road = self.road_names.take();
        self.comm_road = self.roads.len();
        self.roads.push(road);
        let start = self.r(1, 40) as u32;
        self.road_next.push(start);
    }

    fn open_grid(&mut self) {
        if self.comm_grids >= self.comm_target_grids {
            self.open_community();
        }
        self.comm_grids += 1;
        let n = self.city.grids.len() + 1;
        let comm_idx = self.city.communities.len().saturating_sub(1);
        let (comm_id, comm_code, comm_name) = self
            .city
            .communities
            .last()
            .map(|c| (c.id.clone(), c.code.clone(), c.name.clone()))
            .unwrap_or_default();
        let grid_worker = if self.chance(0.92) {
            let surname = self.surname();
            let male = self.chance(0.45);
            let year = self.r(1968, 1998);
            Some(self.full_name(surname, male, year))
        } else {
            None
        };
        self.city.grids.push(GridRow {
            id: format!("G{n:05}"),
            name: format!("{comm_name}第{}网格", self.comm_grids),
            code: format!("{comm_code}{:03}", self.comm_grids),
            grid_worker,
            community_id: comm_id,
        });
        self.grid_community.push(comm_idx);
        self.grid_target = self.r(GRID_MIN_HOUSEHOLDS as i32, GRID_MAX_HOUSEHOLDS as i32) as usize;
        self.grid_households = 0;
    }

    fn open_building(&mut self) {
        loop {
            // Nudge towards a city-wide 30 % so small cities stay on target.
            let built = self.city.buildings.len();
            let p_old = if built == 0 {
                self.comm_old_share
            } else {
                let so_far = self.old_buildings as f64 / built as f64;
                (self.comm_old_share + 1.5 * (OLD_COMPOUND_SHARE - so_far)).clamp(0.05, 0.8)
            };
            let old = self.chance(p_old);
            let (floors, year, units, per_landing, occupancy) = if old {
                let floors = match self.r(0, 99) {
                    0..=24 => 5,
                    25..=79 => 6,
                    _ => 7,
                };
                let year = 1975 + self.r(0, 12) + self.r(0, 13);
                (floors, year, self.r(1, 4), 2, self.r(85, 100))
            } else {
                match self.r(0, 99) {
                    0..=3 => (
                        self.r(1, 4),
                        self.r(2000, 2024),
                        self.r(2, 6),
                        2,
                        self.r(70, 98),
                    ),
                    4..=17 => (
                        self.r(5, 7),
                        self.r(2000, 2012),
                        self.r(2, 4),
                        2,
                        self.r(75, 98),
                    ),
                    18..=54 => (
                        self.r(8, 18),
                        self.r(2000, 2024),
                        self.r(1, 3),
                        self.r(2, 4),
                        self.r(70, 98),
                    ),
                    _ => (
                        self.r(19, 33),
                        2005 + self.r(0, 10) + self.r(0, 9),
                        self.r(1, 2),
                        self.r(2, 4),
                        self.r(70, 98),
                    ),
                }
            };
            let per_floor_unit = (floors * per_landing).max(1);
            let min_units = (BUILDING_MIN_HOUSEHOLDS as i32 + per_floor_unit - 1) / per_floor_unit;
            let units = units.max(min_units);
            let total = (floors * units * per_landing) as usize;
            let occupied = (total * occupancy as usize / 100)
                .clamp(BUILDING_MIN_HOUSEHOLDS, BUILDING_MAX_HOUSEHOLDS)
                .min(total);

            if self.grid_households >= self.grid_target
                || self.grid_households + occupied > GRID_MAX_HOUSEHOLDS
            {
                self.open_grid();
                continue;
            }
            self.grid_households += occupied;

            let mut flats = Vec::with_capacity(total);
            for u in 1..=units as u32 {
                for f in 1..=floors as u32 {
                    for room in 1..=per_landing as u32 {
                        flats.push((u, f, room));
                    }
                }
            }
            // Partial Fisher–Yates: the first `occupied` slots are a random subset.
            for i in 0..occupied {
                let j = self.r(i as i32, total as i32 - 1) as usize;
                flats.swap(i, j);
            }
            flats.truncate(occupied);
            flats.sort_unstable();
            self.flats = flats;
            self.flat_cursor = 0;
            self.building_old = old;
            self.old_buildings += usize::from(old);

            let grade_roll = self.r(0, 99);
            let safety_grade = if old {
                match grade_roll {
                    0..=7 => "A",
                    8..=49 => "B",
                    50..=85 => "C",
                    _ => "D",
                }
            } else {
                match grade_roll {
                    0..=61 => "A",
                    62..=93 => "B",
                    94..=98 => "C",
                    _ => "D",
                }
            };
            let step = self.r(1, 6) as u32;
            let road = self.comm_road;
            let number = match self.road_next.get_mut(road) {
                Some(next) => {
                    let n = *next;
                    *next += step;
                    n
                }
                None => step,
            };
            let n = self.city.buildings.len() + 1;
            let grid_id = self
                .city
                .grids
                .last()
                .map(|g| g.id.clone())
                .unwrap_or_default();
            self.city.buildings.push(BuildingRow {
                id: format!("B{n:06}"),
                address: format!(
                    "{}{number}号",
                    self.roads.get(road).map_or("", String::as_str)
                ),
                year_built: i64::from(year),
                floors: i64::from(floors),
                old_compound: old,
                safety_grade,
                grid_id,
            });
            return;
        }
    }

    // -- household composition ---------------------------------------------

    fn push(
        &mut self,
        h: &mut Vec<Draft>,
        rel: &'static str,
        age: i32,
        male: bool,
        surname: &'static str,
    ) {
        h.push(Draft {
            rel,
            age: bound(age, 0, MAX_AGE),
            male,
            surname,
        });
    }

    /// Age difference husband − wife: −2..=6, most often 1–3.
    fn spouse_gap(&mut self) -> i32 {
        self.r(0, 4) + self.r(0, 4) - 2
    }

    fn single_head(&mut self, h: &mut Vec<Draft>, age: i32, male: bool) -> Parents {
        let s = self.surname();
        self.push(h, HEAD, age, male, s);
        Parents {
            older: age,
            younger: age,
            father: s,
            mother: s,
        }
    }

    /// Head and spouse, head aged `lo..=hi`.
    fn couple(&mut self, h: &mut Vec<Draft>, lo: i32, hi: i32) -> Parents {
        let head_age = self.r(lo, hi);
        let head_male = self.chance(0.72);
        let gap = self.spouse_gap();
        let spouse_age = bound(
            if head_male {
                head_age - gap
            } else {
                head_age + gap
            },
            20,
            MAX_AGE,
        );
        let hs = self.surname();
        let ss = self.surname();
        self.push(h, HEAD, head_age, head_male, hs);
        self.push(h, SPOUSE, spouse_age, !head_male, ss);
        let (father, mother) = if head_male { (hs, ss) } else { (ss, hs) };
        Parents {
            older: head_age.max(spouse_age),
            younger: head_age.min(spouse_age),
            father,
            mother,
        }
    }

    /// Age of a child of `p`, 20–40 years younger than both parents.
    fn child_age(&mut self, p: Parents, min_age: i32) -> i32 {
        let lo = (p.older - 40).max(min_age).max(0);
        let hi = p.younger - 20;
        let gap = 20 + self.r(0, 8) + self.r(0, 9);
        bound(p.younger - gap, lo, hi)
    }

    fn kid_surname(&mut self, p: Parents) -> &'static str {
        if self.chance(0.93) {
            p.father
        } else {
            p.mother
        }
    }

    fn children(&mut self, h: &mut Vec<Draft>, rel: &'static str, p: Parents, n: usize) {
        for _ in 0..n {
            let age = self.child_age(p, 0);
            let male = self.chance(0.515);
            let s = self.kid_surname(p);
            self.push(h, rel, age, male, s);
        }
    }

    /// One or two parents of the head (20–40 years older than the head).
    fn parents_of_head(&mut self, h: &mut Vec<Draft>, n: usize) {
        let (head_age, head_surname) = h.first().map(|d| (d.age, d.surname)).unwrap_or((40, "王"));
        let lo = head_age + 20;
        let hi = (head_age + 40).min(MAX_AGE);
        let first_age = bound(head_age + 20 + self.r(0, 8) + self.r(0, 8), lo, hi);
        let first_male = n >= 2 || self.chance(0.4);
        let s = if first_male {
            head_surname
        } else {
            self.surname()
        };
        self.push(h, PARENT, first_age, first_male, s);
        if n >= 2 {
            let gap = self.spouse_gap();
            let age = bound(first_age - gap, lo, hi);
            let s = self.surname();
            self.push(h, PARENT, age, false, s);
        }
    }

    /// A married adult child (CHILD) and their spouse (CHILD_IN_LAW);
    /// returns them as parents for grandchildren.
    fn married_child(&mut self, h: &mut Vec<Draft>, p: Parents) -> Parents {
        let child_age = self.child_age(p, 23);
        let child_male = self.chance(0.6);
        let cs = self.kid_surname(p);
        self.push(h, CHILD, child_age, child_male, cs);
        let gap = self.spouse_gap();
        let inlaw_age = bound(
            if child_male {
                child_age - gap
            } else {
                child_age + gap
            },
            20,
            MAX_AGE,
        );
        let is = self.surname();
        self.push(h, CHILD_IN_LAW, inlaw_age, !child_male, is);
        let (father, mother) = if child_male { (cs, is) } else { (is, cs) };
        Parents {
            older: child_age.max(inlaw_age),
            younger: child_age.min(inlaw_age),
            father,
            mother,
        }
    }

    /// Grandchildren living with grandparents only (留守儿童 style).
    fn skipped_grandchildren(&mut self, h: &mut Vec<Draft>, p: Parents, n: usize) {
        for _ in 0..n {
            let age = self.r(0, (p.younger - 42).clamp(0, 16));
            let male = self.chance(0.52);
            let s = self.kid_surname(p);
            self.push(h, GRANDCHILD, age, male, s);
        }
    }

    /// Builds the members of one household of `size` people; returns them
    /// with the probability (percent) that the household is a migrant one.
    fn compose(&mut self, size: usize) -> (Vec<Draft>, i32) {
        let mut h = Vec::with_capacity(size);
        let roll = self.r(0, 99);
        let migrant_pct = match size {
            1 => {
                if roll < 14 {
                    // Elderly living alone, mostly widows.
                    let age = ELDERLY_AGE + self.r(0, 11) + self.r(0, 12);
                    let male = self.chance(0.35);
                    self.single_head(&mut h, age, male);
                    4
                } else if roll < 72 {
                    let age = self.r(19, 42);
                    let male = self.chance(0.55);
                    self.single_head(&mut h, age, male);
                    45
                } else {
                    let age = self.r(40, 64);
                    let male = self.chance(0.5);
                    self.single_head(&mut h, age, male);
                    22
                }
            }
            2 => {
                if roll < 22 {
                    self.couple(&mut h, 22, 38);
                    40
                } else if roll < 52 {
                    self.couple(&mut h, 48, 68);
                    15
                } else if roll < 77 {
                    let age = ELDERLY_AGE + self.r(0, 8) + self.r(0, 9);
                    self.couple(&mut h, age, age);
                    6
                } else if roll < 89 {
                    let age = self.r(30, 58);
                    let male = self.chance(0.25);
                    let p = self.single_head(&mut h, age, male);
                    self.children(&mut h, CHILD, p, 1);
                    22
                } else if roll < 96 {
                    let age = self.r(30, 62);
                    let male = self.chance(0.5);
                    self.single_head(&mut h, age, male);
                    self.parents_of_head(&mut h, 1);
                    15
                } else {
                    let age = self.r(19, 36);
                    let male = self.chance(0.55);
                    let p = self.single_head(&mut h, age, male);
                    match self.r(0, 9) {
                        0..=3 => {
                            let a = bound(age + self.r(-8, 8), 16, MAX_AGE);
                            let m = self.chance(0.5);
                            self.push(&mut h, SIBLING, a, m, p.father);
                        }
                        4..=7 => {
                            let a = self.r(19, 38);
                            let s = self.surname();
                            self.push(&mut h, OTHER, a, male, s);
                        }
                        _ => {
                            let a = bound(age + 40 + self.r(0, 12) + self.r(0, 12), 0, MAX_AGE);
                            let m = self.chance(0.35);
                            let s = if m { p.father } else { self.surname() };
                            self.push(&mut h, GRANDPARENT, a, m, s);
                        }
                    }
                    55
                }
            }
            3 => {
                if roll < 77 {
                    let age = 26 + self.r(0, 15) + self.r(0, 15);
                    let p = self.couple(&mut h, age, age);
                    self.children(&mut h, CHILD, p, 1);
                    27
                } else if roll < 85 {
                    self.couple(&mut h, 28, 60);
                    self.parents_of_head(&mut h, 1);
                    15
                } else if roll < 91 {
                    let p = self.couple(&mut h, 50, 76);
                    self.skipped_grandchildren(&mut h, p, 1);
                    12
                } else if roll < 96 {
                    let age = self.r(32, 55);
                    let male = self.chance(0.25);
                    let p = self.single_head(&mut h, age, male);
                    self.children(&mut h, CHILD, p, 2);
                    20
                } else {
                    let age = 55 + self.r(0, 10) + self.r(0, 12);
                    let male = self.chance(0.35);
                    let p = self.single_head(&mut h, age, male);
                    self.married_child(&mut h, p);
                    10
                }
            }
            4 => {
                if roll < 45 {
                    let age = 28 + self.r(0, 13) + self.r(0, 14);
                    let p = self.couple(&mut h, age, age);
                    self.children(&mut h, CHILD, p, 2);
                    28
                } else if roll < 75 {
                    let p = self.couple(&mut h, 28, 58);
                    self.children(&mut h, CHILD, p, 1);
                    self.parents_of_head(&mut h, 1);
                    18
                } else if roll < 85 {
                    let age = 50 + self.r(0, 12) + self.r(0, 14);
                    let p = self.couple(&mut h, age, age);
                    self.married_child(&mut h, p);
                    12
                } else if roll < 95 {
                    let age = 52 + self.r(0, 11) + self.r(0, 12);
                    let male = self.chance(0.35);
                    let p = self.single_head(&mut h, age, male);
                    let c = self.married_child(&mut h, p);
                    self.children(&mut h, GRANDCHILD, c, 1);
                    12
                } else {
                    let p = self.couple(&mut h, 50, 76);
                    self.skipped_grandchildren(&mut h, p, 2);
                    12
                }
            }
            5 => {
                if roll < 40 {
                    let p = self.couple(&mut h, 28, 58);
                    self.children(&mut h, CHILD, p, 1);
                    self.parents_of_head(&mut h, 2);
                    15
                } else if roll < 75 {
                    let age = 48 + self.r(0, 12) + self.r(0, 14);
                    let p = self.couple(&mut h, age, age);
                    let c = self.married_child(&mut h, p);
                    self.children(&mut h, GRANDCHILD, c, 1);
                    12
                } else if roll < 85 {
                    let p = self.couple(&mut h, 30, 50);
                    self.children(&mut h, CHILD, p, 3);
                    30
                } else {
                    let p = self.couple(&mut h, 30, 56);
                    self.children(&mut h, CHILD, p, 2);
                    self.parents_of_head(&mut h, 1);
                    18
                }
            }
            _ => {
                if roll < 50 {
                    let age = 48 + self.r(0, 12) + self.r(0, 14);
                    let p = self.couple(&mut h, age, age);
                    let c = self.married_child(&mut h, p);
                    self.children(&mut h, GRANDCHILD, c, 2);
                    12
                } else if roll < 85 {
                    let p = self.couple(&mut h, 30, 56);
                    self.children(&mut h, CHILD, p, 2);
                    self.parents_of_head(&mut h, 2);
                    15
                } else if roll < 90 {
                    // Four generations under one roof.
                    let p = self.couple(&mut h, 40, 50);
                    self.children(&mut h, CHILD, p, 1);
                    let head_age = h.first().map_or(45, |d| d.age);
                    let parent_age = self.r(head_age + 20, (head_age + 30).min(78));
                    let head_surname = h.first().map_or("王", |d| d.surname);
                    self.push(&mut h, PARENT, parent_age, true, head_surname);
                    let s = self.surname();
                    self.push(
                        &mut h,
                        PARENT,
                        bound(parent_age - 2, head_age + 20, 80),
                        false,
                        s,
                    );
                    let gp_age = self.r(parent_age + 20, MAX_AGE);
                    let s = self.surname();
                    self.push(&mut h, GRANDPARENT, gp_age, false, s);
                    8
                } else {
                    let p = self.couple(&mut h, 28, 55);
                    self.children(&mut h, CHILD, p, 2);
                    self.parents_of_head(&mut h, 1);
                    let head_age = h.first().map_or(40, |d| d.age);
                    let head_surname = h.first().map_or("王", |d| d.surname);
                    let a = bound(head_age + self.r(-8, 8), 18, MAX_AGE);
                    let m = self.chance(0.5);
                    self.push(&mut h, SIBLING, a, m, head_surname);
                    20
                }
            }
        };
        (h, migrant_pct)
    }

    // -- households and residents ------------------------------------------

    /// Places one household (at most `remaining` members) in the current
    /// building; returns the number of residents created.
    fn household(&mut self, remaining: usize) -> usize {
        let size = self.sizes.pick(&mut self.rng).0;
        let (mut drafts, migrant_pct) = self.compose(size);
        drafts.truncate(remaining);
        let n = drafts.len();
        if n == 0 {
            return 0;
        }

        // Template percentages are relative; scaled so ≈ 25 % of residents
        // are migrants.
        let migrant = self.r(0, 999) < migrant_pct * 12;
        let home_area = if migrant {
            self.migrant_areas.pick_index(&mut self.rng)
        } else {
            self.local_areas.pick_index(&mut self.rng)
        };
        let ethnicity = if self.chance(0.925) {
            "汉族"
        } else {
            self.minorities.pick(&mut self.rng).0
        };
        let elderly_alone = n == 1 && drafts.first().is_some_and(|d| d.age >= ELDERLY_AGE);
        let mut p_low = if migrant {
            0.008
        } else if self.building_old {
            0.075
        } else {
            0.027
        };
        if elderly_alone {
            p_low *= 1.8;
        }
        let low_income = self.chance(p_low);

        let h_index = self.city.households.len() + 1;
        let ctx = HouseholdCtx {
            id: padded_id("H", h_index as u64, 7),
            size: n,
            migrant,
            home_area,
            ethnicity,
            low_income,
        };
        for d in &drafts {
            let row = self.resident(d, &ctx);
            self.city.residents.push(row);
        }

        let (u, f, room) = self
            .flats
            .get(self.flat_cursor)
            .copied()
            .unwrap_or((1, 1, 1));
        let mut unit = String::with_capacity(8);
        push_padded(&mut unit, u64::from(u), 1);
        unit.push('-');
        push_padded(&mut unit, u64::from(f), 1);
        push_padded(&mut unit, u64::from(room), 2);
        self.flat_cursor += 1;
        self.household_number += self.r(1, 9) as u64;
        let building_id = self
            .city
            .buildings
            .last()
            .map(|b| b.id.clone())
            .unwrap_or_default();
        self.city.households.push(HouseholdRow {
            id: ctx.id,
            household_number: padded_id("", self.household_number, 9),
            unit,
            member_count: n as i64,
            building_id,
        });
        n
    }

    fn resident(&mut self, d: &Draft, ctx: &HouseholdCtx) -> ResidentRow {
        // Birth date: uniform among the days giving exactly `d.age` today.
        let lo = days_from_civil(TODAY.0 - d.age - 1, TODAY.1, TODAY.2) + 1;
        let hi = days_from_civil(TODAY.0 - d.age, TODAY.1, TODAY.2);
        let day = lo + i64::from(self.r(0, (hi - lo) as i32));

        let own_area = matches!(d.rel, HEAD | CHILD | GRANDCHILD) || self.chance(0.75);
        let area_idx = if own_area {
            ctx.home_area
        } else if ctx.migrant {
            self.migrant_areas.pick_index(&mut self.rng)
        } else {
            self.local_areas.pick_index(&mut self.rng)
        };
        let (area, day, seq) = self.allocate_id(ctx.migrant, area_idx, day, d.male);
        let (y, m, dd) = civil_from_days(day);
        let age = age_on_today(y, m, dd);

        let mut digits = [0u8; 17];
        let mut put = |start: usize, width: usize, mut v: u64| {
            for i in (start..start + width).rev() {
                digits[i] = (v % 10) as u8;
                v /= 10;
            }
        };
        put(0, 6, u64::from(area));
        put(6, 4, y.max(0) as u64);
        put(10, 2, u64::from(m));
        put(12, 2, u64::from(dd));
        put(14, 3, u64::from(seq));
        let mut id_number = String::with_capacity(18);
        for dg in digits {
            id_number.push(char::from(b'0' + dg));
        }
        id_number.push(check_char_of(&digits));

        let mut birth_date = String::with_capacity(10);
        push_padded(&mut birth_date, y.max(0) as u64, 4);
        birth_date.push('-');
        push_padded(&mut birth_date, u64::from(m), 2);
        birth_date.push('-');
        push_padded(&mut birth_date, u64::from(dd), 2);

        let name = self.full_name(d.surname, d.male, y);
        let phone = self.phone(age);
        let ethnicity = if self.chance(0.94) {
            ctx.ethnicity
        } else if self.chance(0.9) {
            "汉族"
        } else {
            self.minorities.pick(&mut self.rng).0
        };
        let occupation = self.occupation(age, d.male, ctx.migrant);
        let disability_status = self.disability(age);
        let n = self.city.residents.len() + 1;
        ResidentRow {
            id: padded_id("R", n as u64, 8),
            name,
            id_number,
            birth_date,
            sex: if d.male { "MALE" } else { "FEMALE" },
            phone,
            hukou_type: if ctx.migrant { "MIGRANT" } else { "LOCAL" },
            ethnicity: ethnicity.to_string(),
            occupation: occupation.map(str::to_string),
            disability_status,
            low_income: ctx.low_income,
            elderly_living_alone: ctx.size == 1 && age >= ELDERLY_AGE,
            household_id: ctx.id.clone(),
            relation_to_head: d.rel,
        }
    }

    /// Reserves a unique (area, birth day, sequence) triple; returns the area
    /// code, the (possibly shifted) birth day and the sequence number whose
    /// parity encodes the sex.
    fn allocate_id(
        &mut self,
        migrant: bool,
        area_idx: usize,
        day: i64,
        male: bool,
    ) -> (u32, i64, u32) {
        let pool: &'static [(u32, u32)] = if migrant { MIGRANT_AREAS } else { LOCAL_AREAS };
        let slots: u32 = if male { 500 } else { 499 };
        let base_day = days_from_civil(1900, 1, 1);
        let mut shift = 0i64;
        loop {
            let d = day - shift;
            let day_key = ((d - base_day).max(0) as u64) & 0xF_FFFF;
            for k in 0..pool.len() {
                let area = pool[(area_idx + k) % pool.len()].0;
                let start = self.rng.random_range(0..slots);
                for j in 0..slots {
                    let i = (start + j) % slots;
                    // Male: 1, 3, ..., 999. Female: 2, 4, ..., 998.
                    let seq = if male { 2 * i + 1 } else { 2 * i + 2 };
                    let key = (u64::from(area) << 30) | (day_key << 10) | u64::from(seq);
                    if self.used_ids.insert(key) {
                        return (area, d, seq);
                    }
                }
            }
            // Every slot of that day is taken in every area: use the day before.
            shift += 1;
        }
    }

    fn phone(&mut self, age: i32) -> Option<String> {
        let p = match age {
            0..=11 => 0.0,
            12..=15 => 0.45,
            16..=75 => 0.96,
            _ => 0.7,
        };
        if !self.chance(p) {
            return None;
        }
        let prefix = self.pick_str(PHONE_PREFIXES);
        let rest = self.rng.random_range(0..100_000_000u32);
        let mut phone = String::with_capacity(11);
        phone.push_str(prefix);
        push_padded(&mut phone, u64::from(rest), 8);
        Some(phone)
    }

    fn occupation(&mut self, age: i32, male: bool, migrant: bool) -> Option<&'static str> {
        let retire = if male { 60 } else { 55 };
        match age {
            0..=5 => None,
            6..=17 => Some("学生"),
            18..=22 if self.chance(0.6) => Some("学生"),
            a if a >= retire => {
                if self.chance(if migrant { 0.7 } else { 0.93 }) || a >= 70 {
                    Some("退休")
                } else {
                    Some(self.working_occupation(male, migrant))
                }
            }
            _ => Some(self.working_occupation(male, migrant)),
        }
    }

    fn working_occupation(&mut self, male: bool, migrant: bool) -> &'static str {
        let t = usize::from(male) * 2 + usize::from(migrant);
        match self.occupations.get(t) {
            Some(table) => table.pick(&mut self.rng).0,
            None => "无业",
        }
    }

    fn disability(&mut self, age: i32) -> &'static str {
        let p = match age {
            0..=17 => 0.015,
            18..=44 => 0.035,
            45..=59 => 0.065,
            60..=74 => 0.12,
            _ => 0.2,
        };
        if !self.chance(p) {
            return "NONE";
        }
        match self.r(0, 99) {
            0..=9 => "GRADE_1",
            10..=29 => "GRADE_2",
            30..=59 => "GRADE_3",
            _ => "GRADE_4",
        }
    }

    // -- departments ---------------------------------------------------------

    fn finish(mut self) -> City {
        let all_subdistricts: Vec<String> = self
            .city
            .subdistricts
            .iter()
            .map(|s| s.id.clone())
            .collect();
        let mut departments =
            Vec::with_capacity(DISTRICT_DEPARTMENTS.len() + 2 * all_subdistricts.len());
        for &(code, name) in DISTRICT_DEPARTMENTS {
            departments.push(DepartmentRow {
                id: format!("D-{code}"),
                name: name.to_string(),
                code,
                level: "DISTRICT",
                serves_subdistricts: all_subdistricts.clone(),
                serves_communities: Vec::new(),
                serves_grids: Vec::new(),
            });
        }
        for (si, sub) in self.city.subdistricts.iter().enumerate() {
            let bare = self.subdistrict_bare.get(si).cloned().unwrap_or_default();
            let communities: Vec<String> = self
                .city
                .communities
                .iter()
                .zip(&self.community_subdistrict)
                .filter(|(_, &s)| s == si)
                .map(|(c, _)| c.id.clone())
                .collect();
            let grids: Vec<String> = self
                .city
                .grids
                .iter()
                .zip(&self.grid_community)
                .filter(|(_, &c)| self.community_subdistrict.get(c) == Some(&si))
                .map(|(g, _)| g.id.clone())
                .collect();
            departments.push(DepartmentRow {
                id: format!("D-GRID_MANAGEMENT-{}", sub.id),
                name: format!("{bare}网格化管理中心"),
                code: "GRID_MANAGEMENT",
                level: "SUBDISTRICT",
                serves_subdistricts: Vec::new(),
                serves_communities: Vec::new(),
                serves_grids: grids,
            });
            departments.push(DepartmentRow {
                id: format!("D-STREET_OFFICE-{}", sub.id),
                name: format!("{bare}街道办事处"),
                code: "STREET_OFFICE",
                level: "SUBDISTRICT",
                serves_subdistricts: vec![sub.id.clone()],
                serves_communities: communities,
                serves_grids: Vec::new(),
            });
        }
        self.city.departments = departments;
        self.city
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{HashMap, HashSet};
    use std::sync::OnceLock;

    const N: usize = 30_000;

    fn city() -> &'static City {
        static CITY: OnceLock<City> = OnceLock::new();
        CITY.get_or_init(|| {
            generate(&CityParams {
                residents: N,
                seed: 20_260_101,
            })
        })
    }

    /// Independent GB 11643 implementation: weight of position i (1-based
    /// from the right, check digit = 1) is 2^(i-1) mod 11; check value is
    /// (12 - S mod 11) mod 11 with 10 written as 'X'.
    fn reference_check_char(first17: &str) -> char {
        let sum: u64 = first17
            .bytes()
            .enumerate()
            .map(|(i, b)| u64::from(b - b'0') * ((1u64 << (17 - i)) % 11))
            .sum();
        match (12 - sum % 11) % 11 {
            10 => 'X',
            v => char::from(b'0' + v as u8),
        }
    }

    fn parse_date(s: &str) -> (i32, u32, u32) {
        assert_eq!(s.len(), 10, "{s}");
        assert_eq!(&s[4..5], "-");
        assert_eq!(&s[7..8], "-");
        (
            s[0..4].parse().unwrap(),
            s[5..7].parse().unwrap(),
            s[8..10].parse().unwrap(),
        )
    }

    /// Age on 2026-01-01, computed without the module's helpers.
    fn age(birth_date: &str) -> i32 {
        let (y, m, d) = parse_date(birth_date);
        2026 - y - i32::from((m, d) > (1, 1))
    }

    fn members(c: &City) -> HashMap<&str, Vec<&ResidentRow>> {
        let mut m: HashMap<&str, Vec<&ResidentRow>> = HashMap::new();
        for r in &c.residents {
            m.entry(r.household_id.as_str()).or_default().push(r);
        }
        m
    }

    #[test]
    fn known_check_digit_vectors() {
        assert_eq!(id_check_char("11010519491231002"), Some('X'));
        assert_eq!(
            id_check_char("34010419900101001"),
            Some(reference_check_char("34010419900101001"))
        );
        assert_eq!(id_check_char("1101051949123100"), None);
        assert_eq!(id_check_char("110105194912310021"), None);
        assert_eq!(id_check_char("1101051949123100a"), None);
        assert_eq!(id_check_char(""), None);
        // Cross-check against the reference on pseudo-random inputs.
        let mut x: u64 = 0x1234_5678_9abc_def0;
        for _ in 0..2000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let s = format!("{:017}", x % 100_000_000_000_000_000);
            assert_eq!(id_check_char(&s), Some(reference_check_char(&s)), "{s}");
        }
    }

    #[test]
    fn padding_matches_format() {
        for (n, w) in [
            (0u64, 1usize),
            (0, 4),
            (7, 2),
            (42, 8),
            (123_456_789, 9),
            (123, 2),
            (u64::MAX, 1),
            (u64::MAX, 20),
        ] {
            let mut s = String::new();
            push_padded(&mut s, n, w);
            assert_eq!(s, format!("{n:0w$}"));
        }
        assert_eq!(padded_id("R", 42, 8), "R00000042");
    }

    #[test]
    fn date_helpers_round_trip() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        let start = days_from_civil(1900, 1, 1);
        let end = days_from_civil(2100, 12, 31);
        let mut prev = civil_from_days(start - 1);
        for z in start..=end {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
            assert!((y, m, d) > prev);
            prev = (y, m, d);
        }
        assert_eq!(age_on_today(1961, 1, 1), 65);
        assert_eq!(age_on_today(1961, 1, 2), 64);
        assert_eq!(age_on_today(2025, 12, 31), 0);
    }

    #[test]
    fn deterministic() {
        let p = CityParams {
            residents: 5_000,
            seed: 7,
        };
        let a = generate(&p);
        let b = generate(&p);
        assert_eq!(a, b);
        assert_eq!(
            serde_json::to_string(&a).unwrap(),
            serde_json::to_string(&b).unwrap()
        );
        let c = generate(&CityParams { seed: 8, ..p });
        assert_ne!(a, c);
        assert_ne!(a.residents, c.residents);
    }

    #[test]
    fn serializes_camel_case() {
        let c = generate(&CityParams {
            residents: 10,
            seed: 1,
        });
        let v = serde_json::to_value(&c).unwrap();
        let r = &v["residents"][0];
        for key in [
            "id",
            "name",
            "idNumber",
            "birthDate",
            "sex",
            "phone",
            "hukouType",
            "ethnicity",
            "occupation",
            "disabilityStatus",
            "lowIncome",
            "elderlyLivingAlone",
            "householdId",
            "relationToHead",
        ] {
            assert!(r.get(key).is_some(), "missing {key}");
        }
        assert!(v["grids"][0].get("gridWorker").is_some());
        assert!(v["departments"][0].get("servesSubdistricts").is_some());
    }

    #[test]
    fn exact_resident_count() {
        for n in [0usize, 1, 2, 3, 5, 17, 999, 4_321] {
            let c = generate(&CityParams {
                residents: n,
                seed: n as u64,
            });
            assert_eq!(c.residents.len(), n);
            let total: i64 = c.households.iter().map(|h| h.member_count).sum();
            assert_eq!(total, n as i64);
            assert!(!c.subdistricts.is_empty());
            assert!(!c.communities.is_empty());
            assert!(!c.grids.is_empty());
            assert_eq!(c.departments.len(), 6 + 2 * c.subdistricts.len());
        }
        assert_eq!(city().residents.len(), N);
    }

    #[test]
    fn id_numbers_valid() {
        for r in &city().residents {
            let id = &r.id_number;
            assert_eq!(id.len(), 18, "{id}");
            assert!(id[..17].bytes().all(|b| b.is_ascii_digit()), "{id}");
            let check = id.chars().nth(17).unwrap();
            assert_eq!(check, reference_check_char(&id[..17]), "{id}");
            assert_eq!(Some(check), id_check_char(&id[..17]));
            let (y, m, d) = parse_date(&r.birth_date);
            assert_eq!(&id[6..14], format!("{y:04}{m:02}{d:02}"), "{id}");
            assert_eq!(civil_from_days(days_from_civil(y, m, d)), (y, m, d));
            let seq: u32 = id[14..17].parse().unwrap();
            assert_ne!(seq, 0);
            let expected = if seq % 2 == 1 { "MALE" } else { "FEMALE" };
            assert_eq!(r.sex, expected, "{id}");
            match r.hukou_type {
                "LOCAL" => assert!(id.starts_with("3401"), "{id}"),
                "MIGRANT" => assert!(!id.starts_with("34"), "{id}"),
                other => panic!("bad hukou {other}"),
            }
        }
    }

    #[test]
    fn id_numbers_unique() {
        let c = city();
        let set: HashSet<&str> = c.residents.iter().map(|r| r.id_number.as_str()).collect();
        assert_eq!(set.len(), c.residents.len());
    }

    #[test]
    fn ids_are_sequential_and_prefixed() {
        let c = city();
        for (i, s) in c.subdistricts.iter().enumerate() {
            assert_eq!(s.id, format!("S{:02}", i + 1));
            assert!(s.name.ends_with("街道"));
            assert_eq!(s.code, format!("340104{:03}", i + 1));
        }
        for (i, x) in c.communities.iter().enumerate() {
            assert_eq!(x.id, format!("C{:04}", i + 1));
            assert!(x.name.ends_with("社区"));
            assert_eq!(x.code.len(), 12);
        }
        for (i, x) in c.grids.iter().enumerate() {
            assert_eq!(x.id, format!("G{:05}", i + 1));
            assert!(x.name.contains("社区第") && x.name.ends_with("网格"));
            assert_eq!(x.code.len(), 15);
            assert!(x.code.bytes().all(|b| b.is_ascii_digit()));
        }
        for (i, x) in c.buildings.iter().enumerate() {
            assert_eq!(x.id, format!("B{:06}", i + 1));
        }
        for (i, x) in c.households.iter().enumerate() {
            assert_eq!(x.id, format!("H{:07}", i + 1));
        }
        for (i, x) in c.residents.iter().enumerate() {
            assert_eq!(x.id, format!("R{:08}", i + 1));
        }
        let names: HashSet<&str> = c.communities.iter().map(|x| x.name.as_str()).collect();
        assert_eq!(names.len(), c.communities.len());
        let names: HashSet<&str> = c.subdistricts.iter().map(|x| x.name.as_str()).collect();
        assert_eq!(names.len(), c.subdistricts.len());
    }

    #[test]
    fn name_pools_stay_unique_when_exhausted() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for (bases, suffixes) in [
            (SUBDISTRICT_BASES, COMMUNITY_SUFFIXES),
            (COMMUNITY_BASES, COMMUNITY_SUFFIXES),
            (ROAD_BASES, ROAD_SUFFIXES),
        ] {
            let mut pool = NamePool::new(&mut rng, bases, suffixes);
            let names: HashSet<String> = (0..3_000).map(|_| pool.take()).collect();
            assert_eq!(names.len(), 3_000);
        }
    }

    #[test]
    fn one_head_per_household_and_member_count() {
        let c = city();
        let m = members(c);
        assert_eq!(m.len(), c.households.len());
        for h in &c.households {
            let ms = &m[h.id.as_str()];
            assert_eq!(ms.len() as i64, h.member_count, "{}", h.id);
            assert!((1..=6).contains(&h.member_count));
            assert_eq!(ms.iter().filter(|r| r.relation_to_head == HEAD).count(), 1);
            assert_eq!(ms[0].relation_to_head, HEAD);
            assert!(ms.iter().filter(|r| r.relation_to_head == SPOUSE).count() <= 1);
            // Whole households share hukou type and low-income status.
            assert!(ms.iter().all(|r| r.hukou_type == ms[0].hukou_type));
            assert!(ms.iter().all(|r| r.low_income == ms[0].low_income));
        }
        let numbers: HashSet<&str> = c
            .households
            .iter()
            .map(|h| h.household_number.as_str())
            .collect();
        assert_eq!(numbers.len(), c.households.len());
        for h in &c.households {
            assert!(h.household_number.len() >= 9);
            assert!(h.household_number.bytes().all(|b| b.is_ascii_digit()));
        }
    }

    #[test]
    fn ages_consistent_with_relations() {
        let c = city();
        for ms in members(c).values() {
            let head = age(&ms[0].birth_date);
            let spouse = ms
                .iter()
                .find(|r| r.relation_to_head == SPOUSE)
                .map(|r| age(&r.birth_date));
            if let Some(s) = spouse {
                assert!((head - s).abs() <= 8, "spouse {head} {s}");
            }
            for r in ms {
                let a = age(&r.birth_date);
                assert!((0..=MAX_AGE).contains(&a));
                match r.relation_to_head {
                    CHILD => {
                        assert!((20..=40).contains(&(head - a)), "child {head} {a}");
                        if let Some(s) = spouse {
                            assert!((20..=40).contains(&(s - a)), "child {s} {a}");
                        }
                    }
                    PARENT => assert!((20..=40).contains(&(a - head)), "parent {head} {a}"),
                    GRANDCHILD => {
                        assert!(head - a >= 40, "grandchild {head} {a}");
                        for p in ms
                            .iter()
                            .filter(|p| matches!(p.relation_to_head, CHILD | CHILD_IN_LAW))
                        {
                            let pa = age(&p.birth_date);
                            assert!((20..=40).contains(&(pa - a)), "grandchild {pa} {a}");
                        }
                    }
                    GRANDPARENT => assert!(a - head >= 40, "grandparent {head} {a}"),
                    CHILD_IN_LAW => {
                        assert!(a >= 20);
                        assert!(ms
                            .iter()
                            .any(|p| p.relation_to_head == CHILD
                                && (age(&p.birth_date) - a).abs() <= 8));
                    }
                    SPOUSE => assert!(a >= 20),
                    HEAD | SIBLING | OTHER => assert!(a >= 16),
                    other => panic!("bad relation {other}"),
                }
            }
        }
    }

    #[test]
    fn grid_and_hierarchy_sizes() {
        let c = city();
        let mut per_grid: HashMap<&str, usize> = HashMap::new();
        let building_grid: HashMap<&str, &str> = c
            .buildings
            .iter()
            .map(|b| (b.id.as_str(), b.grid_id.as_str()))
            .collect();
        for h in &c.households {
            *per_grid
                .entry(building_grid[h.building_id.as_str()])
                .or_default() += 1;
        }
        let last = c.grids.len() - 1;
        for (i, g) in c.grids.iter().enumerate() {
            let n = per_grid.get(g.id.as_str()).copied().unwrap_or(0);
            if i < last {
                assert!((300..=500).contains(&n), "{} has {n}", g.id);
            } else {
                assert!(n <= 500);
            }
        }
        let mut per_comm: HashMap<&str, usize> = HashMap::new();
        for g in &c.grids {
            *per_comm.entry(g.community_id.as_str()).or_default() += 1;
        }
        for (i, x) in c.communities.iter().enumerate() {
            let n = per_comm[x.id.as_str()];
            assert!(
                n <= 10 && (n >= 5 || i + 1 == c.communities.len()),
                "{} {n}",
                x.id
            );
        }
        let mut per_sub: HashMap<&str, usize> = HashMap::new();
        for x in &c.communities {
            *per_sub.entry(x.subdistrict_id.as_str()).or_default() += 1;
        }
        for (i, s) in c.subdistricts.iter().enumerate() {
            let n = per_sub[s.id.as_str()];
            assert!(
                n <= 8 && (n >= 4 || i + 1 == c.subdistricts.len()),
                "{} {n}",
                s.id
            );
        }
        let workers = c.grids.iter().filter(|g| g.grid_worker.is_some()).count();
        assert!(workers > 0);
    }

    #[test]
    fn buildings_are_plausible() {
        let c = city();
        let mut per_building: HashMap<&str, Vec<&str>> = HashMap::new();
        for h in &c.households {
            per_building
                .entry(h.building_id.as_str())
                .or_default()
                .push(h.unit.as_str());
        }
        let last = c.buildings.len() - 1;
        for (i, b) in c.buildings.iter().enumerate() {
            assert!((1..=33).contains(&b.floors));
            assert!(["A", "B", "C", "D"].contains(&b.safety_grade));
            assert!(
                b.address.contains('路') && b.address.ends_with('号'),
                "{}",
                b.address
            );
            if b.old_compound {
                assert!((5..=7).contains(&b.floors));
                assert!((1975..=2000).contains(&b.year_built));
            } else {
                assert!((2000..=2024).contains(&b.year_built));
            }
            let units = &per_building[b.id.as_str()];
            if i < last {
                assert!(
                    (12..=120).contains(&units.len()),
                    "{} {}",
                    b.id,
                    units.len()
                );
            }
            let distinct: HashSet<&&str> = units.iter().collect();
            assert_eq!(distinct.len(), units.len());
            for u in units {
                let (unit, rest) = u.split_once('-').unwrap();
                assert!(unit.parse::<u32>().unwrap() >= 1);
                let floor: i64 = rest[..rest.len() - 2].parse().unwrap();
                assert!(
                    (1..=b.floors).contains(&floor),
                    "{u} in {} floors",
                    b.floors
                );
            }
        }
        let addresses: HashSet<&str> = c.buildings.iter().map(|b| b.address.as_str()).collect();
        assert_eq!(addresses.len(), c.buildings.len());
    }

    #[test]
    fn foreign_keys_resolve() {
        let c = city();
        let subs: HashSet<&str> = c.subdistricts.iter().map(|x| x.id.as_str()).collect();
        let comms: HashSet<&str> = c.communities.iter().map(|x| x.id.as_str()).collect();
        let grids: HashSet<&str> = c.grids.iter().map(|x| x.id.as_str()).collect();
        let buildings: HashSet<&str> = c.buildings.iter().map(|x| x.id.as_str()).collect();
        let households: HashSet<&str> = c.households.iter().map(|x| x.id.as_str()).collect();
        assert!(c
            .communities
            .iter()
            .all(|x| subs.contains(x.subdistrict_id.as_str())));
        assert!(c
            .grids
            .iter()
            .all(|x| comms.contains(x.community_id.as_str())));
        assert!(c
            .buildings
            .iter()
            .all(|x| grids.contains(x.grid_id.as_str())));
        assert!(c
            .households
            .iter()
            .all(|x| buildings.contains(x.building_id.as_str())));
        assert!(c
            .residents
            .iter()
            .all(|x| households.contains(x.household_id.as_str())));
        for d in &c.departments {
            assert!(d
                .serves_subdistricts
                .iter()
                .all(|s| subs.contains(s.as_str())));
            assert!(d
                .serves_communities
                .iter()
                .all(|s| comms.contains(s.as_str())));
            assert!(d.serves_grids.iter().all(|s| grids.contains(s.as_str())));
        }
        // Every level is non-empty below the top.
        let used_grids: HashSet<&str> = c.buildings.iter().map(|b| b.grid_id.as_str()).collect();
        assert_eq!(used_grids.len(), c.grids.len());
        let used_buildings: HashSet<&str> = c
            .households
            .iter()
            .map(|h| h.building_id.as_str())
            .collect();
        assert_eq!(used_buildings.len(), c.buildings.len());
    }

    #[test]
    fn departments_cover_the_city() {
        let c = city();
        assert_eq!(c.departments.len(), 6 + 2 * c.subdistricts.len());
        let all_subs: Vec<String> = c.subdistricts.iter().map(|s| s.id.clone()).collect();
        for code in [
            "CIVIL_AFFAIRS",
            "PUBLIC_SECURITY",
            "HEALTH",
            "EDUCATION",
            "HOUSING",
            "HUMAN_RESOURCES",
        ] {
            let d = c
                .departments
                .iter()
                .find(|d| d.id == format!("D-{code}"))
                .unwrap();
            assert_eq!(d.code, code);
            assert_eq!(d.level, "DISTRICT");
            assert_eq!(d.serves_subdistricts, all_subs);
        }
        let comm_sub: HashMap<&str, &str> = c
            .communities
            .iter()
            .map(|x| (x.id.as_str(), x.subdistrict_id.as_str()))
            .collect();
        for s in &c.subdistricts {
            let bare = s.name.trim_end_matches("街道");
            let gm = c
                .departments
                .iter()
                .find(|d| d.id == format!("D-GRID_MANAGEMENT-{}", s.id))
                .unwrap();
            assert_eq!(gm.level, "SUBDISTRICT");
            assert_eq!(gm.code, "GRID_MANAGEMENT");
            assert_eq!(gm.name, format!("{bare}网格化管理中心"));
            let expected: Vec<&str> = c
                .grids
                .iter()
                .filter(|g| comm_sub[g.community_id.as_str()] == s.id)
                .map(|g| g.id.as_str())
                .collect();
            assert_eq!(gm.serves_grids, expected);
            assert!(!expected.is_empty());
            let so = c
                .departments
                .iter()
                .find(|d| d.id == format!("D-STREET_OFFICE-{}", s.id))
                .unwrap();
            assert_eq!(so.code, "STREET_OFFICE");
            assert_eq!(so.name, format!("{bare}街道办事处"));
            assert_eq!(so.serves_subdistricts, vec![s.id.clone()]);
            let expected: Vec<&str> = c
                .communities
                .iter()
                .filter(|x| x.subdistrict_id == s.id)
                .map(|x| x.id.as_str())
                .collect();
            assert_eq!(so.serves_communities, expected);
        }
    }

    #[test]
    fn elderly_living_alone_rule() {
        let c = city();
        let size: HashMap<&str, i64> = c
            .households
            .iter()
            .map(|h| (h.id.as_str(), h.member_count))
            .collect();
        let mut alone = 0;
        let mut elderly = 0;
        for r in &c.residents {
            let a = age(&r.birth_date);
            let expected = a >= 65 && size[r.household_id.as_str()] == 1;
            assert_eq!(r.elderly_living_alone, expected, "{}", r.id);
            elderly += usize::from(a >= 65);
            alone += usize::from(r.elderly_living_alone);
        }
        assert!(alone > 0);
        let share = alone as f64 / elderly as f64;
        assert!((0.02..0.2).contains(&share), "{share}");
    }

    #[test]
    fn resident_fields_are_well_formed() {
        let c = city();
        for r in &c.residents {
            let a = age(&r.birth_date);
            let chars = r.name.chars().count();
            assert!((2..=4).contains(&chars), "{}", r.name);
            assert!(["MALE", "FEMALE"].contains(&r.sex));
            assert!(r.ethnicity.ends_with('族'));
            assert!(
                ["NONE", "GRADE_1", "GRADE_2", "GRADE_3", "GRADE_4"].contains(&r.disability_status)
            );
            if let Some(p) = &r.phone {
                let b = p.as_bytes();
                assert_eq!(b.len(), 11, "{p}");
                assert!(b.iter().all(u8::is_ascii_digit));
                assert_eq!(b[0], b'1');
                assert!((b'3'..=b'9').contains(&b[1]), "{p}");
            }
            if a < 12 {
                assert!(r.phone.is_none());
            }
            match a {
                0..=5 => assert_eq!(r.occupation, None),
                6..=17 => assert_eq!(r.occupation.as_deref(), Some("学生")),
                _ => assert!(r.occupation.is_some()),
            }
            if r.occupation.as_deref() == Some("退休") {
                assert!(a >= 55);
            }
        }
    }

    #[test]
    fn distributions_are_believable() {
        let c = city();
        let n = c.residents.len() as f64;
        let share = |f: &dyn Fn(&ResidentRow) -> bool| {
            c.residents.iter().filter(|r| f(r)).count() as f64 / n
        };
        let mean = n / c.households.len() as f64;
        assert!((2.4..2.8).contains(&mean), "mean household {mean}");
        let male = share(&|r| r.sex == "MALE");
        assert!((0.46..0.54).contains(&male), "male {male}");
        let migrant = share(&|r| r.hukou_type == "MIGRANT");
        assert!((0.2..0.3).contains(&migrant), "migrant {migrant}");
        let han = share(&|r| r.ethnicity == "汉族");
        assert!((0.88..0.96).contains(&han), "han {han}");
        let disabled = share(&|r| r.disability_status != "NONE");
        assert!((0.04..0.08).contains(&disabled), "disabled {disabled}");
        let severe = share(&|r| matches!(r.disability_status, "GRADE_1" | "GRADE_2"));
        assert!(severe < disabled / 2.0);
        let low = share(&|r| r.low_income);
        assert!((0.015..0.05).contains(&low), "low income {low}");
        let children = share(&|r| age(&r.birth_date) < 15);
        assert!((0.1..0.22).contains(&children), "children {children}");
        let elderly = share(&|r| age(&r.birth_date) >= 65);
        assert!((0.1..0.2).contains(&elderly), "elderly {elderly}");
        let old =
            c.buildings.iter().filter(|b| b.old_compound).count() as f64 / c.buildings.len() as f64;
        assert!((0.15..0.45).contains(&old), "old compounds {old}");
        let ab = c
            .buildings
            .iter()
            .filter(|b| matches!(b.safety_grade, "A" | "B"))
            .count() as f64
            / c.buildings.len() as f64;
        assert!(ab > 0.7, "A/B share {ab}");
        let mut sizes = [0usize; 7];
        for h in &c.households {
            sizes[h.member_count as usize] += 1;
        }
        assert!(sizes[1] + sizes[2] + sizes[3] > sizes[4] + sizes[5] + sizes[6]);
        assert!(sizes[6] > 0);
        let surname_of = |name: &str| -> &'static str {
            SURNAMES
                .iter()
                .map(|&(s, _)| s)
                .filter(|s| name.starts_with(s))
                .max_by_key(|s| s.len())
                .unwrap()
        };
        let surnames: HashSet<&str> = c.residents.iter().map(|r| surname_of(&r.name)).collect();
        assert!(surnames.len() >= 60, "{}", surnames.len());
        let (mut kids, mut same) = (0, 0);
        for ms in members(c).values() {
            let head = surname_of(&ms[0].name);
            for r in ms.iter().filter(|r| r.relation_to_head == CHILD) {
                kids += 1;
                same += usize::from(surname_of(&r.name) == head);
            }
        }
        assert!(same as f64 / kids as f64 > 0.6, "{same}/{kids}");
        let relations: HashSet<&str> = c.residents.iter().map(|r| r.relation_to_head).collect();
        for rel in [
            HEAD,
            SPOUSE,
            CHILD,
            PARENT,
            GRANDCHILD,
            GRANDPARENT,
            SIBLING,
            CHILD_IN_LAW,
            OTHER,
        ] {
            assert!(relations.contains(rel), "no {rel}");
        }
    }

    #[test]
    fn tables_are_well_formed() {
        assert!(SURNAMES.len() >= 60);
        for t in [
            HOUSEHOLD_SIZES.len(),
            LOCAL_AREAS.len(),
            MIGRANT_AREAS.len(),
            MINORITIES.len(),
        ] {
            assert!(t > 0);
        }
        assert!(LOCAL_AREAS.iter().all(|&(a, w)| a / 100 == 3401 && w > 0));
        assert!(MIGRANT_AREAS
            .iter()
            .all(|&(a, w)| a / 10_000 != 34 && w > 0));
        let mean: f64 = HOUSEHOLD_SIZES
            .iter()
            .map(|&(s, w)| s as f64 * f64::from(w))
            .sum::<f64>()
            / f64::from(HOUSEHOLD_SIZES.iter().map(|&(_, w)| w).sum::<u32>());
        assert!((2.5..2.7).contains(&mean), "{mean}");
    }
}
