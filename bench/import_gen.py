#!/usr/bin/env python3
"""Writes a residents CSV for `mandate import` benchmarks (bench/import).

    bench/import_gen.py ROWS OUT.csv [--bad-every N]

The columns are those of examples/imports/residents.mapping.toml (PUBLIC_SECURITY's
household-registration export). Ids are BENCH-<n>; ID numbers are valid GB 11643
numbers (ISO 7064 MOD 11-2) under region codes 98xxxx, unique per row; birth dates
alternate between the ISO and the 年月日 formats. With --bad-every N, every N-th row
carries a wrong check character (to exercise the reject path). Deterministic.
"""
import csv
import datetime
import sys

WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
CHECK = "10X98765432"
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂"
ETHNIC = ["汉族"] * 9 + ["回族", "满族", "壮族"]
BASE = datetime.date(1940, 1, 1).toordinal()


def main():
    args = sys.argv[1:]
    bad_every = 0
    if "--bad-every" in args:
        i = args.index("--bad-every")
        bad_every = int(args[i + 1])
        del args[i : i + 2]
    rows, out = int(args[0]), args[1]
    with open(out, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["人员编号", "姓名", "公民身份号码", "出生日期", "性别", "户籍类型", "民族"])
        for n in range(1, rows + 1):
            region = 980000 + n // 20000
            day = datetime.date.fromordinal(BASE + n % 20000)
            male = n % 2 == 1
            first = f"{region}{day:%Y%m%d}00{1 if male else 2}"
            check = CHECK[sum(int(c) * w_ for c, w_ in zip(first, WEIGHTS)) % 11]
            if bad_every and n % bad_every == 0:
                check = "0" if check != "0" else "1"
            birth = f"{day:%Y-%m-%d}" if n % 2 else f"{day.year}年{day.month}月{day.day}日"
            name = SURNAMES[n % len(SURNAMES)] + GIVEN[(n // 20) % len(GIVEN)] + (GIVEN[(n // 500) % len(GIVEN)] if n % 3 else "")
            w.writerow([
                f"BENCH-{n:07d}", name, first + check, birth,
                "男" if male else "女", "本地" if n % 4 else "外来", ETHNIC[n % 12],
            ])


if __name__ == "__main__":
    main()
