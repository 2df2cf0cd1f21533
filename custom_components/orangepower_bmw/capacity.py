"""The usable (net) battery capacity of the BMW and MINI models the service can list.

The service sends the model as the MyBMW app names it ("i3s 94 REX", "iX xDrive50", "Cooper SE")
with a brand and a model year. The first row whose brand, words and years match gives the capacity;
a row of None stops the search for a model whose capacity is not known (it is not guessed).
Figures are the usable capacity in kWh, from the sources in each row's comment.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
import re

from .models import Vehicle


@dataclass(frozen=True, slots=True)
class Row:
    """A model family: the brand, its name, a pattern on its normalised name, years, usable kWh."""

    brand: str
    name: str
    pattern: str
    kwh: float | None
    first_year: int | None = None
    last_year: int | None = None


# ev-database = ev-database.org (and the open-ev-data set kept from it); press = the maker's
# press release or technical data, as reprinted by the site named.
TABLE: tuple[Row, ...] = (
    # i3 with its cell size in the name: 120 Ah 42.2 gross / 37.9 usable (press via greencarcongress;
    # ev-database); 94 Ah 33.2 / 27.2 (BMW Macau technical data; InsideEVs); 60 Ah 22.6 / 18.8 (InsideEVs).
    Row("BMW", "i3, i3s and REX, 120 Ah in the name", r"\bi3s?\b.*\b120\b", 37.9),
    Row("BMW", "i3, i3s and REX, 94 Ah in the name", r"\bi3s?\b.*\b94\b", 27.2),
    Row("BMW", "i3 and REX, 60 Ah in the name", r"\bi3s?\b.*\b60\b", 18.8),
    # The coming Neue Klasse i3 saloon ("i3 50 xDrive"): not known yet.
    Row("BMW", 'i3 Neue Klasse ("i3 50 xDrive")', r"\bi3\b.*\b(40|50)\b.*\b[ex]drive\b", None),
    # i3 by model year: 60 Ah up to 2015, 94 Ah for 2017-2018, 120 Ah from 2019 (2016 had both).
    Row("BMW", "i3, i3s and REX by model year", r"\bi3s?\b", 18.8, last_year=2015),
    Row("BMW", "i3, i3s and REX by model year", r"\bi3s?\b", 27.2, first_year=2017, last_year=2018),
    Row("BMW", "i3, i3s and REX by model year", r"\bi3s?\b", 37.9, first_year=2019),
    # i4: eDrive35 70.2 / 66 (press via bimmertoday); from 2024 81.3 (ev-database car 2199);
    # before, eDrive40, xDrive40 and M50 83.9 / 80.7 (press via electrive).
    Row("BMW", "i4 eDrive35", r"\bi4\b.*\bedrive ?35\b", 66.0),
    Row("BMW", "i4 eDrive40, xDrive40, M50, M60", r"\bi4\b", 81.3, first_year=2024),
    Row("BMW", "i4 eDrive40, xDrive40, M50, M60", r"\bi4\b", 80.7),
    # iX from 2025: xDrive45 94.8 (heise; ev-database), xDrive60 109.1, M70 108.9 (ev-database).
    Row("BMW", "iX xDrive45", r"\bix\b.*\bxdrive ?45\b", 94.8),
    Row("BMW", "iX xDrive60", r"\bix\b.*\bxdrive ?60\b", 109.1),
    Row("BMW", "iX M70", r"\bix\b.*\bm70\b", 108.9),
    # iX: xDrive40 76.6 / 71.0 (InsideEVs; ev-database); xDrive50 and M60 111.5 / 105.2 (drive.com.au).
    Row("BMW", "iX xDrive40", r"\bix\b.*\bxdrive ?40\b", 71.0),
    Row("BMW", "iX xDrive50, M60", r"\bix\b.*\b(xdrive ?50|m60)\b", 105.2),
    # iX1 66.5 / 64.7 (electrifying.com; ev-database); iX2 64.8 (press via allmotorsnews).
    Row("BMW", "iX1", r"\bix1\b", 64.7),
    Row("BMW", "iX2", r"\bix2\b", 64.8),
    # iX3: Neue Klasse 50 xDrive 108.7 (autoscout24; trend.at); other Neue Klasse variants not
    # known yet; G08 80 / 74 (press via electrive; ev-database car 1535).
    Row("BMW", "iX3 50 xDrive (Neue Klasse)", r"\bix3\b.*\b50\b", 108.7),
    Row("BMW", "iX3 40, M60 (Neue Klasse)", r"\bix3\b.*\b(40|m60)\b", None),
    Row("BMW", "iX3", r"\bix3\b", 74.0),
    # i5, every version and the Touring: 84.4 / 81.2 (ev-database car 1906; wired.co.uk).
    Row("BMW", "i5, every version", r"\bi5\b", 81.2),
    # i7 eDrive50, xDrive60 and M70: 101.7 (greencarguide; newmobility.news; ev-database).
    Row("BMW", "i7, every version", r"\bi7\b", 101.7),
    # i8 from 2018 and the Roadster 11.6 / 9.4 (auto-data; open-ev-data); before, 7.1 / 5.2
    # (car-engineer.com).
    Row("BMW", "i8 Roadster", r"\bi8\b.*\broadster\b", 9.4),
    Row("BMW", "i8", r"\bi8\b", 9.4, first_year=2018),
    Row("BMW", "i8", r"\bi8\b", 5.2, last_year=2017),
    # X5: xDrive50e 29.5 / 25.7 (endsmotors; Car and Driver); xDrive45e 24 / 21 (zap-map;
    # bmwblog 20.9); xDrive40e: only its gross 9.0 is published.
    Row("BMW", "X5 xDrive50e", r"\bx5\b.*\b(xdrive ?)?50e\b", 25.7),
    Row("BMW", "X5 xDrive45e", r"\bx5\b.*\b(xdrive ?)?45e\b", 21.0),
    Row("BMW", "X5 xDrive40e", r"\bx5\b.*\b(xdrive ?)?40e\b", None),
    # XM: 25.7 usable (CarBuzz).
    Row("BMW", "XM", r"\bxm\b", 25.7),
    # X3: 30e xDrive from 2025 19.7 (press via bimmertoday); xDrive30e before, 12 / 10.8 (autopista.es).
    Row("BMW", "X3 30e xDrive", r"\bx3\b.*\b30e xdrive\b", 19.7),
    Row("BMW", "X3 xDrive30e", r"\bx3\b.*\b30e\b", 19.7, first_year=2025),
    Row("BMW", "X3 xDrive30e", r"\bx3\b.*\b30e\b", 10.8),
    # X1 from 2023 (xDrive25e, xDrive30e) 14.2 (sasatimes); X1 and X2 xDrive25e before, 10.0 / 8.8
    # (press via electrive).
    Row("BMW", "X1 xDrive30e", r"\bx1\b.*\b(xdrive ?)?30e\b", 14.2),
    Row("BMW", "X1 xDrive25e", r"\bx1\b.*\b(xdrive ?)?25e\b", 14.2, first_year=2023),
    Row("BMW", "X1 and X2 xDrive25e", r"\bx[12]\b.*\b(xdrive ?)?25e\b", 8.8),
    # 225e and 230e xDrive Active Tourer (2022 on): not published.
    Row("BMW", "225e, 230e xDrive Active Tourer", r"\b2[23][05]e\b", None),
    # 225xe Active Tourer: from 2020 10.0 / 8.8 (InsideEVs; open-ev-data); before, 7.6 / 5.8 (InsideEVs).
    Row("BMW", "225xe Active Tourer", r"\b225 ?xe\b", 8.8, first_year=2020),
    Row("BMW", "225xe Active Tourer", r"\b225 ?xe\b", 5.8),
    # 320e and 330e G20/G21 (2019 on) 12.0 / 10.8 (eldiario.es); the 330e before: not published.
    Row("BMW", "320e, 330e", r"\b3[23]0e\b", 10.8, first_year=2019),
    Row("BMW", "320e, 330e", r"\b3[23]0e\b", None),
    # 530e and 550e G60 (2024 on) 19.4 (IAA 2023 report); 530e and 545e 2020-2023 12.0 / 10.8
    # (InsideEVs; LeasePlan: the 545e has the 530e's battery); 530e before 2020 and 520e: not published.
    Row("BMW", "530e, 550e", r"\b5[35]0e\b", 19.4, first_year=2024),
    Row("BMW", "530e, 545e", r"\b(530|545)e\b", 10.8, first_year=2020),
    Row("BMW", "520e, 530e", r"\b5[234][05]e\b", None),
    # 740e 9.2 / 7.4 (InsideEVs; greencarguide); 745e 12.0 / 10.4 (bmwblog; GreenCarReports);
    # 750e: not published.
    Row("BMW", "740e, 740Le", r"\b740l?e\b", 7.4),
    Row("BMW", "745e, 745Le", r"\b745l?e\b", 10.4),
    Row("BMW", "750e", r"\b750l?e\b", None),
    # MINI Cooper S E Countryman ALL4 (plug-in hybrid): the 225xe's battery (press via electrive),
    # 10.0 / 8.8 from 2020 and 7.6 / 5.8 before.
    Row(
        "MINI",
        "Cooper S E Countryman ALL4 (plug-in hybrid)",
        r"\bcooper\b.*\bcountryman\b|\bcountryman\b.*\bcooper\b",
        8.8,
        first_year=2020,
    ),
    Row(
        "MINI",
        "Cooper S E Countryman ALL4 (plug-in hybrid)",
        r"\bcooper\b.*\bcountryman\b|\bcountryman\b.*\bcooper\b",
        5.8,
    ),
    # Countryman E and SE ALL4 (2024 on) 66.5 / 64.6 (electrifying.com; ev-database).
    Row("MINI", "Countryman E, SE ALL4", r"\bcountryman\b", 64.6),
    # Aceman SE and JCW 54.2 / 49.2, Aceman E 42.5 / 38.5 (motoringfile; ev-database).
    Row("MINI", "Aceman SE, JCW", r"\baceman\b.*\b(se|jcw|john cooper works)\b", 49.2),
    Row("MINI", "Aceman E", r"\baceman\b", 38.5),
    # Cooper E (2024 on) 40.7 / 36.6, Cooper SE and JCW Electric (2024 on) 54.2 / 49.2 (ev-database;
    # motoringfile); Cooper SE and MINI Electric before, 32.6 / 28.9 (ev-database car 1827).
    Row("MINI", "Cooper E", r"\bcooper e\b", 36.6),
    Row(
        "MINI",
        "Cooper SE, JCW Electric",
        r"\b(cooper se|se|electric|jcw e|john cooper works e)\b",
        49.2,
        first_year=2024,
    ),
    Row("MINI", "Cooper SE, MINI Electric", r"\b(cooper se|se|electric)\b", 28.9),
)

# Words that make a model a MINI when the service sends no brand.
MINI_WORDS = re.compile(r"\b(mini|cooper|countryman|aceman|clubman)\b")


def normalised(model: str) -> str:
    """Return a model name in lower case, without brand words or punctuation, "120 Ah" as "120"."""
    text = re.sub(r"[()\[\],/+-]", " ", model.lower())
    text = re.sub(r"\b(bmw|mini)\b", " ", text)
    text = re.sub(r"(\d)\s*ah\b", r"\1", text)
    return " ".join(text.split())


@cache
def usable_capacity(brand: str | None, model: str | None, year: int | None) -> float | None:
    """Return the usable capacity in kWh of a model, or None when it is not known."""
    if not model:
        return None
    if brand is None:
        brand = "MINI" if MINI_WORDS.search(model.lower()) else "BMW"
    name = normalised(model)
    for row in TABLE:
        if row.brand != brand.upper() or not re.search(row.pattern, name):
            continue
        if (row.first_year or row.last_year) and (
            year is None
            or (row.first_year is not None and year < row.first_year)
            or (row.last_year is not None and year > row.last_year)
        ):
            continue
        return row.kwh
    return None


def capacity_of(vehicle: Vehicle) -> float | None:
    """Return the usable capacity of a car from its model, or None when it is not known."""
    return usable_capacity(vehicle.brand, vehicle.model, vehicle.year)
