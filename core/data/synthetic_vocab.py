"""Vocabulary tables for the synthetic Rakuten catalogue (plain data, no logic).

Each category has its own pools (``nouns``, ``brands``, ``attrs``, ``specs``, ``templates``,
``sentences``, ``foreign``). Confusable categories belong to a group whose shared pools are
deliberately uninformative within the group, and ``NEIGHBOURS`` lists whose own pools may leak
into a category's rows. Placeholders: ``{noun} {brand} {attr} {spec} {gen}`` pick from pools;
``{n}`` 2-9, ``{k}`` 10-99, ``{K}`` 100-999, ``{y}`` a year, ``{a}``/``{b}`` a dimension in cm,
``{dd}``/``{mm}`` a day/month number, ``{month}`` a French month name.
"""

from __future__ import annotations

Pools = dict[str, tuple[str, ...]]

# fmt: off
# Word tables stay packed several per line: one word per line would make them unreadable.

VOCAB: dict[int, Pools] = {
    10: {
        "nouns": (
            "Les Misérables", "Le Rouge Et Le Noir", "Madame Bovary", "La Peste", "L'étranger",
            "Germinal", "Le Père Goriot", "Bel-Ami", "Les Fleurs Du Mal", "Le Grand Meaulnes",
            "La Condition Humaine", "Voyage Au Bout De La Nuit", "Mémoires D'outre-Tombe",
            "Histoire De La Révolution Française", "Dictionnaire Des Symboles",
            "Cours De Droit Civil", "Précis De Grammaire Latine", "Souvenirs D'enfance",
            "Traité De Philosophie", "Les Châteaux De La Loire", "La Gloire De Mon Père",
            "Le Comte De Monte-Cristo", "Vingt Mille Lieues Sous Les Mers", "Le Horla",
        ),
        "brands": (
            "Victor Hugo", "Émile Zola", "Honoré De Balzac", "Albert Camus", "Marcel Pagnol",
            "Jean Giono", "Guy De Maupassant", "Collectif", "Alexandre Dumas", "Jules Verne",
            "Georges Simenon", "Marguerite Duras", "Henri Troyat", "Maurice Genevoix",
        ),
        "attrs": (
            "Relié", "Ancien", "Livre De Poche", "Folio", "Club Français Du Livre", "Gallimard",
            "Flammarion", "J'ai Lu", "Presses De La Cité", "Exemplaire Numéroté",
            "Envoi De L'auteur", "Jaquette Abîmée", "Rousseurs", "Cartonnage Éditeur",
        ),
        "specs": (
            "Tome {n}", "Volume {n}", "Édition De {y}", "{y}", "Édition Originale {y}",
            "Réimpression {y}", "{K} Pages",
        ),
        "templates": (
            "{noun}", "{noun} - {brand}", "{noun} {spec}", "{noun} - {brand} - {attr}",
            "{brand} - {noun} ({spec})", "{noun} De {brand}",
        ),
        "sentences": (
            "Livre d'occasion, édition {attr}.", "Ouvrage paru en {y}, quelques rousseurs.",
            "Couverture légèrement jaunie, intérieur propre.",
            "Ancien livre de bibliothèque, tampon sur la page de garde.",
            "Exemplaire d'occasion, coins frottés.", "Roman de {brand}, édition ancienne.",
            "Dos insolé, pages jaunies par le temps.", "Ex-libris manuscrit en page de titre.",
        ),
        "foreign": ("Used Book", "Old Paperback", "Gebrauchtes Buch", "Hardcover Novel"),
    },
    2705: {
        "nouns": (
            "Le Dernier Secret", "L'art De La Méditation", "Manuel De Survie En Entreprise",
            "Les Secrets De La Cuisine Végétarienne", "Apprendre La Programmation",
            "Histoire Mondiale De La France", "La Psychologie De L'enfant",
            "Le Pouvoir Du Moment Présent", "Petit Traité De Jardinage",
            "Mes Premières Recettes", "Guide Pratique De La Retraite", "Le Code Civil Annoté",
            "Bien Dormir Enfin", "Atlas Des Oiseaux D'europe", "La Jeune Fille Et La Nuit",
            "Anthologie De La Poésie Française", "Cahier De Vacances", "Le Guide Du Routard",
        ),
        "brands": (
            "Guillaume Musso", "Marc Levy", "Joël Dicker", "Fred Vargas", "Michel Bussi",
            "Eyrolles", "Dunod", "Larousse", "Marabout", "Albin Michel", "Actes Sud", "Glénat",
        ),
        "attrs": (
            "Grand Format", "Nouvelle Édition", "Édition Revue Et Augmentée", "Coffret",
            "Version Française", "Édition Collector", "Parution", "Best-Seller", "Nouveauté",
        ),
        "specs": ("Tome {n}", "Volume {n}", "Édition {y}", "{K} Pages", "{n}e Édition"),
        "templates": (
            "{noun}", "{noun} - {brand}", "{noun} {spec}", "{noun} ({attr})",
            "{brand} - {noun} - {spec}", "{noun} - {attr}",
        ),
        "sentences": (
            "Résumé : l'auteur nous entraîne au cœur d'une enquête haletante.",
            "Un ouvrage de référence pour comprendre les enjeux d'aujourd'hui.",
            "{brand} signe ici un roman bouleversant.", "Plus de {K} pages illustrées.",
            "Biographie de l'auteur : né en {y}, il vit aujourd'hui à Paris.",
            "Un best-seller traduit dans le monde entier.", "Date de parution : {dd}/{mm}/2018.",
            "Quatrième de couverture : une histoire vraie qui vous tiendra en haleine.",
        ),
        "foreign": ("New Novel", "Cookbook", "Kinderbuch", "Roman Taschenbuch"),
    },
    2403: {
        "nouns": (
            "Livres Harlequin", "Romans Policiers", "Magazines Marie Claire", "Bd Astérix",
            "Revues Géo", "Livres Pour Enfants", "Mangas Naruto", "Romans Jeunesse",
            "Livres De Cuisine", "Bd Tintin", "Magazines Auto Plus", "Partitions",
            "Bibliothèque Rose", "Revues Science Et Vie", "Romans Sentimentaux",
        ),
        "brands": (
            "Harlequin", "Bibliothèque Verte", "J'ai Lu", "Casterman", "Dargaud",
            "Le Livre De Poche", "Pocket Jeunesse", "Dupuis", "Glénat", "Collection Azur",
        ),
        "attrs": (
            "Collection Complète", "En Vrac", "Série Complète", "Divers Auteurs", "Années 80",
            "Anciens", "À Compléter", "Mixte",
        ),
        "specs": (
            "Lot De {n}", "Lot {k}", "{n} Volumes", "{k} Livres", "{k} Numéros",
            "Lot De {n} Tomes",
        ),
        "templates": (
            "{spec} {noun}", "{spec} {noun} {attr}", "{spec} {noun} - {brand}",
            "{noun} {attr} - {spec}", "Lot {noun} {brand}",
        ),
        "sentences": (
            "Lot de {k} ouvrages vendu en l'état.", "Vendu en lot uniquement.",
            "Voir photos pour le détail des titres.", "Lot idéal pour brocante ou bibliothèque.",
            "Les livres sont en {attr}.", "Lot lourd, envoi en plusieurs colis.",
            "Liste des titres : {noun}, {brand}.",
        ),
        "foreign": ("Book Bundle", "Bücherpaket", "Magazine Lot", "Comic Collection"),
    },
    2280: {
        "nouns": (
            "Paris Match", "Télérama", "L'express", "Le Nouvel Observateur", "Elle",
            "Marie Claire", "Géo", "Science Et Vie", "Auto Plus", "L'équipe Magazine",
            "Historia", "Salut Les Copains", "Pif Gadget", "Le Chasseur Français",
            "Modes Et Travaux", "Onze Mondial", "Rock & Folk", "Première", "Jours De France",
        ),
        "brands": (
            "Spécial Johnny Hallyday", "Alain Delon", "Brigitte Bardot", "Coupe Du Monde",
            "Tour De France", "Claude François", "Mitterrand", "De Gaulle", "Lady Di",
            "Sylvie Vartan", "Grace De Monaco",
        ),
        "attrs": (
            "Hebdomadaire", "Mensuel", "Numéro Spécial", "Hors-Série", "Journal",
            "Supplément", "Avec Poster", "Revue",
        ),
        "specs": (
            "N° {K}", "N°{k}", "Du {dd}/{mm}/{y}", "{month} {y}", "N° {K} Du {dd}/{mm}/{y}",
            "Année {y}",
        ),
        "templates": (
            "{noun} {spec}", "{noun} {spec} {brand}", "{noun} {attr} {spec}",
            "{noun} {spec} : {brand}", "{attr} {noun} {spec}",
        ),
        "sentences": (
            "Magazine d'occasion, couverture légèrement usée.", "Numéro paru le {dd}/{mm}/{y}.",
            "Au sommaire : {brand}, actualité, reportages.", "Revue complète, sans découpe.",
            "Quelques pliures sur la couverture.", "Ancien numéro de collection, {attr}.",
        ),
        "foreign": ("Vintage Magazine", "Zeitschrift", "Old Newspaper", "Illustrierte"),
    },
    40: {
        "nouns": (
            "Super Mario Odyssey", "Zelda Breath Of The Wild", "Final Fantasy X",
            "Gran Turismo 4", "Metal Gear Solid", "Resident Evil 2", "Street Fighter V",
            "Dragon Ball Xenoverse", "Pokémon Soleil", "Monster Hunter World", "Tekken 7",
            "Persona 5", "Yakuza 0", "Kingdom Hearts", "Crash Bandicoot", "Sonic Mania",
        ),
        "brands": (
            "Capcom", "Square Enix", "Sega", "Bandai Namco", "Konami", "Atlus", "Koei Tecmo",
            "Nintendo", "Sony",
        ),
        "attrs": (
            "Import Japonais", "Import Us", "Version Jap", "Ntsc-J", "Ntsc-U", "Import Asie",
            "Zone Us", "Import Uk", "Région Free", "Version Anglaise",
        ),
        "specs": ("PS4", "PS3", "Nintendo Switch", "Wii U", "3DS", "PS Vita", "PS2", "Xbox One"),
        "templates": (
            "{noun} {spec} {attr}", "{noun} [{attr}] {spec}", "{noun} - {spec}",
            "{brand} {noun} {spec} {attr}", "{noun} {attr}",
        ),
        "sentences": (
            "Jeu en version import, textes en anglais.", "Jeu neuf sous blister, import direct.",
            "Attention : vérifiez la compatibilité de zone.",
            "Livré avec sa notice d'origine en japonais.", "Version {attr} du jeu.",
            "Fonctionne sur les consoles européennes.",
        ),
        "foreign": ("Japan Import", "Game US Version", "Spiel Import", "Asian Version Game"),
    },
    2905: {
        "nouns": (
            "Civilization VI", "The Witcher 3", "Cities Skylines", "Farming Simulator 19",
            "Euro Truck Simulator 2", "Anno 1800", "Total War Warhammer", "Les Sims 4",
            "Age Of Empires", "Fallout 4", "Skyrim", "Football Manager 2019", "Planet Coaster",
            "Hearts Of Iron IV", "Stellaris", "Train Simulator",
        ),
        "brands": (
            "Steam", "Uplay", "Origin", "Gog", "Paradox Interactive", "Bethesda",
            "Focus Home Interactive", "Ubisoft", "Electronic Arts",
        ),
        "attrs": (
            "Jeu En Téléchargement", "Clé Steam", "Code De Téléchargement", "Version Digitale",
            "Dlc", "Season Pass", "Édition Deluxe", "Gold Edition", "Extension",
        ),
        "specs": ("PC", "Mac", "PC/Mac", "Windows 10", "Édition {y}", "PC - {attr}"),
        "templates": (
            "{noun} - {attr}", "{noun} {spec}", "{noun} {attr} {spec}",
            "{noun} - {spec} - {brand}", "{attr} {noun}",
        ),
        "sentences": (
            "Configuration minimale : Windows {n}, processeur Intel Core i{n}, {n} Go de RAM.",
            "Carte graphique : NVIDIA GeForce GTX {K} ou équivalent.",
            "Activation du jeu sur {brand} requise.",
            "Votre code de téléchargement est envoyé par e-mail.",
            "Connexion internet nécessaire pour l'activation.",
            "Espace disque : {k} Go disponibles.",
            "Ce contenu téléchargeable nécessite le jeu de base.",
        ),
        "foreign": ("Download Code", "PC Key Global", "Steam Key", "Digital Download"),
    },
    2462: {
        "nouns": (
            "Lot De Jeux", "Console + Jeux", "Pack Complet", "Jeux En Vrac", "Console Portable",
            "Lot Console", "Console Complète", "Lot Manettes Et Jeux",
        ),
        "brands": ("Nintendo", "Sony", "Microsoft", "Sega"),
        "attrs": (
            "Testée Et Fonctionnelle", "Complet En Boîte", "Sans Boîte", "Avec Câbles",
            "En Loose", "Pal Fr", "Pour Pièces", "Fonctionne",
        ),
        "specs": (
            "PS2", "PS3", "Xbox 360", "Wii", "Nintendo DS", "Game Boy Advance", "Lot De {n} Jeux",
            "+ {n} Manettes", "+ {n} Jeux", "Gamecube",
        ),
        "templates": (
            "{spec} {noun} {attr}", "{noun} {brand} {spec} {attr}", "{noun} {spec}",
            "{spec} {noun} {brand}", "{brand} {spec} + {noun}",
        ),
        "sentences": (
            "Console d'occasion testée et fonctionnelle.",
            "Vendu avec {n} manettes et câbles d'alimentation.", "Les jeux sont en {attr}.",
            "Lot de {n} jeux en bon état, boîtiers et notices.",
            "Quelques rayures d'usage sur la coque.",
            "Tous les jeux sont en version PAL française.",
        ),
        "foreign": ("Console Bundle Used", "Konsole Gebraucht", "Games Lot", "Retro Bundle"),
    },
    60: {
        "nouns": (
            "Console", "Console De Salon", "Mini Console Rétro", "Console Rétro",
            "Bundle Console", "Console Portable Rétro",
        ),
        "brands": (
            "Nintendo Switch", "PlayStation 4", "Xbox One", "Nintendo 2DS",
            "Sega Mega Drive Mini", "Snes Mini", "PS4 Pro", "Xbox One X", "Nes Classic Mini",
        ),
        "attrs": ("Néon", "Édition Limitée", "Jeux Intégrés", "Hdmi", "Officielle", "Neuve"),
        "specs": ("{K} Go", "1 To", "500 Go", "{K} Jeux Intégrés", "Pack {n} Jeux"),
        "templates": (
            "{noun} {brand} {spec}", "{brand} {spec} {attr}", "{noun} {brand} {attr}",
            "{brand} {spec}", "{noun} {attr} {spec}",
        ),
        "sentences": (
            "Console neuve livrée avec une manette et un câble HDMI.",
            "Disque dur de {K} Go.", "Profitez de vos jeux en 4K HDR.",
            "Contenu du pack : console, manette sans fil, câble d'alimentation.",
            "Console rétro avec {K} jeux classiques intégrés.", "Garantie constructeur {n} ans.",
        ),
        "foreign": ("Game Console", "Spielkonsole", "Retro Console HDMI", "Handheld Console"),
    },
    50: {
        "nouns": (
            "Manette", "Casque Gamer", "Chargeur", "Housse De Protection", "Station De Charge",
            "Câble Hdmi", "Volant", "Support", "Protection Écran Verre Trempé", "Grip",
            "Skin Autocollant", "Batterie", "Adaptateur", "Joystick", "Carte Mémoire",
        ),
        "brands": (
            "Thrustmaster", "Turtle Beach", "Hori", "PowerA", "Nacon", "Subsonic",
            "Under Control", "Bigben", "Razer",
        ),
        "attrs": (
            "Sans Fil", "Filaire", "Rgb", "Bluetooth", "Usb", "Ergonomique", "Rechargeable",
            "Double Vibration",
        ),
        "specs": (
            "Pour PS4", "Pour Switch", "Pour Xbox One", "Pour PS3", "Pour Nintendo 3DS",
            "Jack 3.5 Mm", "{n}M", "Pour Joy-Con",
        ),
        "templates": (
            "{noun} {attr} {spec}", "{noun} {brand} {spec}", "{brand} {noun} {attr}",
            "{noun} {spec}", "{noun} {attr} {gen} {spec}",
        ),
        "sentences": (
            "Batterie rechargeable, autonomie de {n} heures.",
            "Conception ergonomique pour un confort de jeu optimal.",
            "Connexion sans fil Bluetooth, portée de {n} mètres.",
            "Contenu du colis : 1 x {noun}, 1 x câble USB.",
            "Prise en main confortable lors de longues sessions de jeu.",
            "Accessoire conçu {spec}.",
        ),
        "foreign": ("Wireless Controller", "Gaming Headset", "Ladestation", "Charging Dock"),
    },
    1280: {
        "nouns": (
            "Peluche", "Poupée", "Voiture Télécommandée", "Jouet En Bois", "Déguisement",
            "Cuisine Enfant", "Circuit De Voitures", "Dinette", "Jouet Musical", "Garage",
            "Train En Bois", "Pâte À Modeler", "Kit Créatif", "Jouet De Bain", "Poupon",
        ),
        "brands": (
            "Playmobil", "Lego Duplo", "VTech", "Fisher-Price", "Smoby", "Janod", "Barbie",
            "Hot Wheels", "Djeco", "Corolle",
        ),
        "attrs": (
            "Interactif", "Éducatif", "Sonore Et Lumineux", "Multicolore", "Licorne", "Pirate",
            "Princesse", "Dinosaure", "Pompier",
        ),
        "specs": ("{k} Cm", "Dès {n} Ans", "{k} Pièces", "Lot De {n}"),
        "templates": (
            "{noun} {attr} {spec}", "{brand} {noun} {attr}", "{noun} {brand} {spec}",
            "{noun} {attr} {gen}", "{brand} - {noun} {spec}",
        ),
        "sentences": (
            "Jouet idéal pour développer l'imagination de votre enfant.",
            "Attention : ne convient pas aux enfants de moins de 36 mois.", "Piles incluses.",
            "Un cadeau parfait pour Noël ou un anniversaire.",
            "Le {noun} {attr} fera le bonheur des petits.", "Hauteur : {k} cm.",
        ),
        "foreign": ("Plush Toy", "Kids Toy Car", "Spielzeug Puppe", "Wooden Toy"),
    },
    1281: {
        "nouns": (
            "Jeu De Société", "Puzzle", "Jeu De Cartes", "Jeu De Plateau", "Jeu D'ambiance",
            "Jeu De Stratégie", "Jeu De Dés", "Jeu Coopératif", "Échiquier", "Jeu De Quiz",
        ),
        "brands": (
            "Monopoly", "Dixit", "Uno", "Scrabble", "Cluedo", "Trivial Pursuit",
            "Les Aventuriers Du Rail", "Catan", "Dobble", "Asmodee", "Ravensburger", "Gigamic",
        ),
        "attrs": (
            "Édition Familiale", "Version Française", "Complet", "Extension", "Jeu En Famille",
            "Édition Voyage", "Classique",
        ),
        "specs": ("{K} Pièces", "{n} À {n} Joueurs", "Dès {n} Ans", "Puzzle {K} Pièces"),
        "templates": (
            "{noun} {brand} {attr}", "{brand} - {noun} {spec}", "{brand} {attr}",
            "{noun} {spec} {brand}", "{brand} {noun}",
        ),
        "sentences": (
            "De {n} à {n} joueurs, dès {n} ans.", "Durée d'une partie : environ {k} minutes.",
            "Contenu : plateau, cartes, pions et règle du jeu.",
            "Jeu complet, toutes les pièces sont présentes.",
            "Soyez le premier à atteindre la case arrivée !",
            "Un {noun} pour animer vos soirées.",
        ),
        "foreign": ("Board Game", "Brettspiel", "Card Game", "Jigsaw Puzzle"),
    },
    1302: {
        "nouns": (
            "Trampoline", "Balançoire", "Toboggan", "Cerf-Volant", "Pistolet À Eau", "Portique",
            "Bac À Sable", "Maisonnette De Jardin", "Tente De Jeu", "Ballon Sauteur",
            "Jeu De Pétanque", "Set De Badminton", "Draisienne", "Trottinette", "Mölkky",
        ),
        "brands": (
            "Hudora", "Little Tikes", "Smoby", "Jumpking", "TP Toys", "Sunny", "Intex", "Obut",
        ),
        "attrs": (
            "Avec Filet De Sécurité", "Plein Air", "Gonflable", "Pliable", "Pour Jardin",
            "Été", "Sport",
        ),
        "specs": ("{K} Cm", "Ø {K} Cm", "{n} Ans Et Plus", "Lot De {n}"),
        "templates": (
            "{noun} {attr} {spec}", "{noun} {brand} {spec}", "{brand} {noun} {attr}",
            "{noun} {spec} {gen}", "{noun} {attr}",
        ),
        "sentences": (
            "Idéal pour s'amuser en plein air.",
            "Structure en acier galvanisé résistant aux intempéries.",
            "Poids maximum supporté : {k} kg.", "Pour des heures de jeu dans le jardin.",
            "Montage facile, notice incluse.", "Diamètre : {K} cm.",
        ),
        "foreign": ("Outdoor Trampoline", "Gartenschaukel", "Water Gun", "Kite for Beach"),
    },
    1180: {
        "nouns": (
            "Figurines À Peindre", "Livre De Règles", "Set De Dés", "Écran Du Maître",
            "Boîte De Base", "Escouade", "Miniatures", "Peinture Citadel", "Décor De Jeu",
            "Supplément De Campagne", "Codex",
        ),
        "brands": (
            "Warhammer 40K", "Age Of Sigmar", "Games Workshop", "Donjons Et Dragons",
            "Pathfinder", "Heroclix", "Citadel", "Infinity", "Blood Bowl", "L'appel De Cthulhu",
        ),
        "attrs": (
            "Space Marines", "Orks", "Nains", "Elfes", "Non Peint", "Métal", "Résine",
            "Armée", "Socle", "Jeu De Rôle",
        ),
        "specs": ("{k} Mm", "28 Mm", "{n} Figurines", "Lot De {n}", "{n}e Édition"),
        "templates": (
            "{brand} {noun} {attr}", "{brand} - {attr} {spec}", "{noun} {brand} {spec}",
            "{attr} {brand}", "{brand} {noun}",
        ),
        "sentences": (
            "Figurines livrées non peintes et non montées.",
            "Nécessite colle et peinture, non fournies.",
            "Livre de règles en français, {K} pages.", "Idéal pour compléter votre armée.",
            "Jeu de rôle pour {n} à {n} joueurs.", "Figurines en {attr}, échelle 28 mm.",
        ),
        "foreign": ("Tabletop Miniatures", "Rollenspiel", "Role Playing Game", "Dice Set"),
    },
    1140: {
        "nouns": (
            "Figurine", "Funko Pop", "Statue", "Mug", "Porte-Clés", "Poster", "Buste",
            "Figurine Articulée", "Réplique", "Tasse", "Diorama", "Lampe Veilleuse",
        ),
        "brands": (
            "Marvel", "Star Wars", "Dragon Ball Z", "One Piece", "Naruto", "Harry Potter",
            "Disney", "Pokémon", "Game Of Thrones", "Super Mario", "Batman", "Spiderman",
        ),
        "attrs": (
            "Vinyle", "Collector", "Articulée", "Pvc", "Officielle", "Goku", "Luffy",
            "Dark Vador", "Iron Man", "Édition Limitée",
        ),
        "specs": ("{k} Cm", "N°{K}", "{k}Cm", "Série {n}"),
        "templates": (
            "{noun} {brand} {attr} {spec}", "{noun} {brand} {spec}", "{brand} {noun} {attr}",
            "{noun} {attr}", "{brand} - {noun} {attr} {spec}",
        ),
        "sentences": (
            "Figurine de collection sous licence officielle.", "Hauteur : environ {k} cm.",
            "Livrée dans sa boîte d'origine, idéale pour les collectionneurs.",
            "Fabriquée en PVC de haute qualité.", "Produit dérivé officiel {brand}.",
            "Parfait pour décorer un bureau ou une étagère.",
        ),
        "foreign": ("Action Figure", "Sammelfigur", "Collectible Statue", "Vinyl Figure"),
    },
    1160: {
        "nouns": (
            "Carte", "Booster", "Display", "Deck", "Carte Holo", "Coffret Dresseur",
            "Album Panini", "Cartes À Collectionner", "Classeur", "Starter", "Sleeves",
        ),
        "brands": (
            "Pokémon", "Magic The Gathering", "Yu-Gi-Oh!", "Panini", "Topps", "Force Of Will",
            "Vanguard", "Dragon Ball Super Card Game",
        ),
        "attrs": (
            "Holo", "Reverse", "Rare", "Ultra Rare", "Foil", "Gx", "Ex", "Vf", "Mint",
            "Commune", "Première Édition",
        ),
        "specs": ("{k}/{K}", "{K}/{K}", "Lot De {k} Cartes", "Série {n}", "Set {n}"),
        "templates": (
            "{noun} {brand} {attr} {spec}", "{brand} {noun} {attr}", "{brand} {spec} {attr}",
            "{noun} {brand} {spec}", "{brand} - {attr} {spec}",
        ),
        "sentences": (
            "Carte en très bon état, sortie de booster.", "Envoi sous sleeve et toploader.",
            "Carte en français, {attr}.", "Lot de {k} cartes sans doubles.",
            "Booster scellé contenant {n} cartes.", "Carte {brand} {attr} authentique.",
        ),
        "foreign": ("Trading Card", "Sammelkarte", "Booster Pack", "Card Lot"),
    },
    1300: {
        "nouns": (
            "Drone", "Maquette", "Voiture Rc", "Hélicoptère Radiocommandé", "Quadricoptère",
            "Bateau Radiocommandé", "Locomotive", "Wagon", "Avion Rc", "Batterie Lipo",
            "Hélice", "Camion Rc", "Servo", "Kit De Construction",
        ),
        "brands": (
            "DJI", "Syma", "Parrot", "Revell", "Tamiya", "Heller", "Airfix", "Märklin",
            "Jouef", "Hubsan", "Traxxas", "Carson",
        ),
        "attrs": (
            "Caméra Hd", "Wifi Fpv", "Télécommandé", "Échelle Ho", "4 Canaux", "2.4 Ghz",
            "Brushless", "À Monter", "Tout-Terrain", "Avec Gps",
        ),
        "specs": ("1/72", "1/35", "1/24", "1/43", "1/87", "1/10", "1/18", "{K} Mah", "{n}S"),
        "templates": (
            "{noun} {attr} {spec}", "{brand} {noun} {spec}", "{noun} {brand} {attr}",
            "{noun} {attr} {gen}", "{brand} - {noun} {attr} {spec}",
        ),
        "sentences": (
            "Drone équipé d'une caméra {attr}, portée de {K} mètres.",
            "Maquette à monter, colle et peinture non fournies.",
            "Batterie rechargeable, autonomie de {k} minutes de vol.",
            "Radiocommande 2,4 GHz incluse.",
            "Modèle réduit de grande qualité pour les passionnés.",
            "Échelle {spec}, nombreux détails.",
        ),
        "foreign": ("RC Drone", "Modellbau Bausatz", "Remote Control Car", "Scale Model Kit"),
    },
    1320: {
        "nouns": (
            "Poussette", "Siège Auto", "Biberon", "Chaise Haute", "Lit Parapluie", "Babyphone",
            "Tapis D'éveil", "Matelas À Langer", "Porte-Bébé", "Transat", "Tétine",
            "Baignoire Bébé", "Sac À Langer", "Veilleuse", "Barrière De Sécurité", "Gigoteuse",
        ),
        "brands": (
            "Chicco", "Bébé Confort", "Babymoov", "Tommee Tippee", "Maxi-Cosi", "Avent",
            "Tigex", "Dbb Remond", "Beaba", "Safety 1st",
        ),
        "attrs": (
            "Groupe 0+", "Isofix", "Anti-Colique", "Pliable", "Sans Bpa", "Réglable", "Évolutif",
            "Nomade",
        ),
        "specs": ("{K} Ml", "0-{n} Mois", "{n}-{k} Mois", "{k} Cm", "Lot De {n}"),
        "templates": (
            "{noun} {attr} {spec}", "{brand} {noun} {attr}", "{noun} {brand} {spec}",
            "{noun} {attr} {gen}", "{brand} - {noun} {spec}",
        ),
        "sentences": (
            "Conforme à la norme européenne de sécurité EN {K}.",
            "Convient dès la naissance jusqu'à {k} kg.", "Sans BPA, passe au lave-vaisselle.",
            "Pliage compact, idéal pour les sorties avec bébé.",
            "Harnais de sécurité {n} points.", "Le confort de votre bébé avant tout.",
        ),
        "foreign": ("Baby Stroller", "Kinderwagen", "Baby Bottle", "Babyphone Video"),
    },
    1301: {
        "nouns": (
            "Chaussettes Bébé", "Body", "Pyjama Bébé", "Bonnet", "Chaussons", "Ensemble Bébé",
            "Babyfoot", "Cible De Fléchettes", "Fléchettes", "Table De Billard", "Grenouillère",
            "Bavoir", "Chaussettes Antidérapantes",
        ),
        "brands": (
            "Obaibi", "Petit Bateau", "Absorba", "Catimini", "Winmau", "Unicorn", "Bonzini",
            "Harrows",
        ),
        "attrs": (
            "Antidérapant", "Nouveau-Né", "Rayé", "Électronique", "Pointe Acier", "Tungstène",
            "Brodé",
        ),
        "specs": ("{n} Mois", "{n}-{k} Mois", "Lot De {n} Paires", "Taille {n} Ans", "{k} G"),
        "templates": (
            "{noun} {attr} {spec}", "{noun} {brand} {spec}", "{spec} {noun} {attr}",
            "{brand} {noun} {gen}", "{noun} {gen} {spec}",
        ),
        "sentences": (
            "Chaussettes en coton doux pour bébé, semelle antidérapante.",
            "Taille {n} mois, lavable en machine à 30°.", "Lot de {n} paires assorties.",
            "Cible électronique avec {k} jeux et {n} joueurs.",
            "Fléchettes de {k} g en tungstène.", "Un cadeau de naissance original.",
        ),
        "foreign": ("Baby Socks", "Babysocken", "Dartboard", "Baby Romper"),
    },
    1560: {
        "nouns": (
            "Table Basse", "Chaise", "Armoire", "Lit", "Étagère", "Commode", "Bureau", "Canapé",
            "Matelas", "Buffet", "Meuble Tv", "Tabouret De Bar", "Fauteuil", "Sommier",
            "Bibliothèque", "Console D'entrée", "Table À Manger", "Tête De Lit",
        ),
        "brands": (
            "Vente-Unique", "Homcom", "Vidaxl", "Alinéa", "Conforama", "Habitat", "Kasalinea",
            "Paris Prix",
        ),
        "attrs": (
            "Scandinave", "Industriel", "Chêne Massif", "Blanc Laqué", "Style Vintage",
            "Contemporain", "Velours", "Pieds En Métal",
        ),
        "specs": ("{a}x{b} Cm", "{n} Portes", "{n} Tiroirs", "{n} Places", "140x190", "160x200"),
        "templates": (
            "{noun} {attr} {spec}", "{noun} {spec} {gen}", "{brand} {noun} {attr}",
            "{noun} {attr} {gen} {spec}", "{noun} {brand} {spec}",
        ),
        "sentences": (
            "Meuble livré en kit avec notice de montage.",
            "Dimensions : L {a} x P {b} x H {k} cm.",
            "Structure en panneaux de particules mélaminés.",
            "Apportera une touche {attr} à votre intérieur.", "Plateau résistant aux rayures.",
            "Idéal pour un salon, une chambre ou un bureau.",
        ),
        "foreign": ("Coffee Table", "Kleiderschrank", "Sofa Bed", "Bookshelf"),
    },
    2582: {
        "nouns": (
            "Salon De Jardin", "Chaise Longue", "Parasol Déporté", "Table De Jardin", "Hamac",
            "Balancelle", "Tonnelle", "Banc De Jardin", "Bain De Soleil", "Pergola",
            "Coussin D'extérieur", "Fauteuil De Jardin", "Voile D'ombrage",
        ),
        "brands": (
            "Hespéride", "Vidaxl", "Outsunny", "Jardiline", "Ozalide", "Proloisirs", "Lafuma",
            "Homcom",
        ),
        "attrs": ("Résine Tressée", "Aluminium", "Teck", "Pliable", "Inclinable", "Acier"),
        "specs": ("{n} Places", "{a}x{b} Cm", "Ø {K} Cm", "{n} Personnes", "Lot De {n}"),
        "templates": (
            "{noun} {attr} {spec}", "{noun} {brand} {attr}", "{brand} {noun} {spec}",
            "{noun} {attr} {gen}", "{noun} {spec} {gen}",
        ),
        "sentences": (
            "Mobilier résistant aux intempéries et aux UV.",
            "Parfait pour profiter de votre terrasse ou de votre jardin.",
            "Structure en {attr}, entretien facile.", "Coussins déhoussables inclus.",
            "Se replie facilement pour un rangement pendant l'hiver.",
            "Ensemble composé d'une table et de {n} fauteuils.",
        ),
        "foreign": ("Garden Furniture Set", "Gartenmöbel", "Sun Lounger", "Patio Umbrella"),
    },
    2060: {
        "nouns": (
            "Stickers Muraux", "Tableau Toile Imprimée", "Bougie Parfumée", "Cadre Photo",
            "Miroir Rond", "Guirlande Lumineuse", "Vase En Verre", "Horloge Murale",
            "Lampe De Chevet", "Fleurs Artificielles", "Plaque Métal", "Suspension Luminaire",
            "Boule De Noël", "Statuette Bouddha", "Photophore",
        ),
        "brands": ("Atmosphera", "Home Déco", "Deco Factory", "Sia", "Pomax", "Amadeus"),
        "attrs": ("Vintage", "Bohème", "Led", "Doré", "Rétro", "Murale", "Noël", "Zen"),
        "specs": ("{a}x{b} Cm", "{k} Cm", "Lot De {n}", "{n} Pièces", "Ø {k} Cm"),
        "templates": (
            "{noun} {attr} {spec}", "{noun} {attr} {gen}", "{brand} {noun} {spec}",
            "{noun} {gen} {spec}", "{noun} {attr}",
        ),
        "sentences": (
            "Apportez une touche de style à votre intérieur.",
            "Décoration idéale pour le salon ou la chambre.",
            "Sticker facile à poser sur toute surface lisse.",
            "Lumière chaude et ambiance cosy garantie.", "Objet décoratif de style {attr}.",
            "Impression haute définition sur toile.",
        ),
        "foreign": ("Wall Sticker", "Wanddeko", "Scented Candle", "Fairy Lights"),
    },
    1920: {
        "nouns": (
            "Housse De Couette", "Parure De Lit", "Drap Housse", "Taie D'oreiller", "Plaid",
            "Rideau Occultant", "Nappe", "Serviette De Bain", "Housse De Coussin", "Couette",
            "Oreiller", "Torchon", "Drap De Bain", "Couvre-Lit",
        ),
        "brands": (
            "Essix", "Linnea", "Tradilinge", "Dodo", "Blanc Des Vosges", "Today", "Abeil",
            "Anne De Solène",
        ),
        "attrs": (
            "100% Coton", "Percale", "Microfibre", "Polaire", "Satin De Coton", "Lin Lavé",
            "Imprimé", "Uni",
        ),
        "specs": ("{a}x{b} Cm", "240x220", "140x200", "65x65", "90x190", "Lot De {n}", "{K} Fils"),
        "templates": (
            "{noun} {attr} {spec}", "{noun} {spec} {gen}", "{brand} {noun} {attr}",
            "{noun} {attr} {gen} {spec}", "{noun} {brand} {spec}",
        ),
        "sentences": (
            "Linge de maison en {attr}, doux et résistant.", "Lavable en machine à 60°C.",
            "Parure comprenant une housse de couette et {n} taies d'oreiller.",
            "Garnissage moelleux pour un sommeil réparateur.", "Tissu certifié Oeko-Tex.",
            "Finitions soignées, coutures renforcées.",
        ),
        "foreign": ("Duvet Cover", "Bettwäsche", "Bath Towel", "Blackout Curtain"),
    },
    2583: {
        "nouns": (
            "Pompe À Chaleur", "Bâche À Bulles", "Robot Piscine", "Filtre À Sable", "Liner",
            "Piscine Tubulaire", "Chlore Galets", "Skimmer", "Échelle Piscine", "Spa Gonflable",
            "Épuisette", "Brosse De Paroi", "Kit De Filtration", "Piscine Bois",
            "Électrolyseur Au Sel", "Couverture Isotherme",
        ),
        "brands": (
            "Intex", "Bestway", "Zodiac", "Gré", "Hayward", "Dolphin", "Kokido", "Aqualux",
            "Ubbink", "Poolstyle",
        ),
        "attrs": (
            "Hors Sol", "Tubulaire", "Autoportée", "Chlore", "Filtration", "Ronde", "Ovale",
            "Enterrée", "Pour Piscine",
        ),
        "specs": ("{k} M3/h", "{K}x{K} Cm", "Ø {K} Cm", "{n} Kw", "{K} L", "{n},{k} M"),
        "templates": (
            "{noun} {attr} {spec}", "{noun} {brand} {spec}", "{brand} {noun} {attr}",
            "{noun} {attr} {brand}", "{noun} {spec}",
        ),
        "sentences": (
            "Piscine hors sol facile à installer, filtration incluse.",
            "Compatible avec les piscines jusqu'à {k} m3.", "Débit de la pompe : {k} m3/h.",
            "Traitement de l'eau au chlore ou au sel.",
            "Bâche de protection résistante aux UV.",
            "Nettoyage automatique du fond et des parois.",
        ),
        "foreign": ("Pool Cover", "Poolpumpe", "Swimming Pool Above Ground", "Pool Cleaner"),
    },
    2585: {
        "nouns": (
            "Tondeuse Thermique", "Taille-Haie", "Perceuse Visseuse", "Tuyau D'arrosage",
            "Sécateur", "Débroussailleuse", "Souffleur De Feuilles", "Scie Sauteuse",
            "Nettoyeur Haute Pression", "Composteur", "Pulvérisateur", "Brouette",
            "Abri De Jardin", "Coffre De Rangement", "Clé À Choc", "Enrouleur",
        ),
        "brands": (
            "Bosch", "Black+Decker", "Makita", "Ryobi", "Gardena", "Stanley", "Einhell",
            "Fiskars", "Dewalt", "Kärcher", "Hozelock", "Keter",
        ),
        "attrs": (
            "Sans Fil", "Électrique", "Thermique", "Professionnel", "Lithium", "Batterie",
            "Arrosage", "Acier Trempé",
        ),
        "specs": ("{k}V", "18V", "{K} W", "{k} M", "{k} Cm3", "{n} Ah", "Lot De {n}"),
        "templates": (
            "{noun} {attr} {spec}", "{brand} {noun} {spec}", "{noun} {brand} {attr}",
            "{noun} {attr} {gen}", "{brand} - {noun} {attr} {spec}",
        ),
        "sentences": (
            "Outil puissant et maniable pour tous vos travaux de jardinage.",
            "Moteur de {K} W.", "Batterie lithium {n} Ah et chargeur inclus.",
            "Poignée ergonomique antidérapante.",
            "Idéal pour l'entretien des haies et du gazon.", "Livré avec mallette de rangement.",
        ),
        "foreign": ("Cordless Drill", "Rasenmäher", "Garden Hose", "Hedge Trimmer"),
    },
    1940: {
        "nouns": (
            "Café En Grains", "Thé Vert", "Chocolat Noir", "Bonbons", "Coffret Gourmand",
            "Miel De Lavande", "Épices", "Capsules Café", "Huile D'olive", "Biscuits",
            "Confiture", "Infusion", "Pâtes", "Sirop",
        ),
        "brands": (
            "Lavazza", "Kusmi Tea", "Lindt", "Haribo", "Carte Noire", "Dammann Frères",
            "Bonne Maman", "Ducros", "Nestlé", "Milka",
        ),
        "attrs": (
            "Bio", "Gourmand", "Sans Gluten", "Artisanal", "Vanille", "Caramel", "Arabica",
            "Intense", "Fruits Rouges",
        ),
        "specs": ("{K} G", "1 Kg", "{k} Capsules", "Lot De {n}", "{k} Cl", "Sachet De {K} G"),
        "templates": (
            "{noun} {attr} {spec}", "{brand} {noun} {spec}", "{noun} {brand} {attr}",
            "{noun} {attr}", "{spec} {noun} {brand}",
        ),
        "sentences": (
            "Ingrédients : sucre, cacao, beurre de cacao, lait en poudre.",
            "À conserver dans un endroit frais et sec.",
            "À consommer de préférence avant le {dd}/{mm}/2020.",
            "Produit issu de l'agriculture biologique.", "Saveur {attr} pour les gourmands.",
            "Peut contenir des traces de fruits à coque.",
        ),
        "foreign": ("Ground Coffee", "Schokolade", "Green Tea", "Gummibärchen"),
    },
    2220: {
        "nouns": (
            "Collier", "Arbre À Chat", "Croquettes", "Litière", "Aquarium", "Panier",
            "Laisse", "Jouet Pour Chat", "Cage Oiseaux", "Harnais", "Gamelle", "Griffoir",
            "Niche", "Manteau Pour Chien",
        ),
        "brands": (
            "Trixie", "Royal Canin", "Ferplast", "Kong", "Zolux", "Tetra", "Purina", "Karlie",
        ),
        "attrs": (
            "Pour Chien", "Pour Chat", "Petit Chien", "Anti-Traction", "Animaux", "Rongeur",
            "Oiseau", "Chiot",
        ),
        "specs": ("Taille S", "Taille M", "Taille L", "Taille XL", "{k} Kg", "{k} Cm", "{k} L"),
        "templates": (
            "{noun} {attr} {spec}", "{brand} {noun} {attr}", "{noun} {attr} {gen}",
            "{noun} {brand} {spec}", "{noun} {attr}",
        ),
        "sentences": (
            "Convient aux chiens de petite et moyenne taille.",
            "Votre animal de compagnie va l'adorer.", "Matériaux robustes et non toxiques.",
            "Coussin déhoussable et lavable en machine.", "Idéal pour les chats d'intérieur.",
            "Accessoire {attr} de qualité.",
        ),
        "foreign": ("Dog Collar", "Katzenbaum", "Cat Toy", "Hundebett"),
    },
    2522: {
        "nouns": (
            "Cahier", "Stylo Bille", "Agenda", "Classeur", "Feutres", "Carnet De Notes",
            "Cartouche D'encre", "Ramette Papier", "Trousse", "Calculatrice",
            "Notes Repositionnables", "Crayons De Couleur", "Enveloppes", "Étiquettes",
            "Surligneurs",
        ),
        "brands": (
            "Clairefontaine", "Bic", "Oxford", "Stabilo", "Pilot", "Exacompta", "Maped",
            "Moleskine", "Epson",
        ),
        "attrs": (
            "A4", "A5", "Grands Carreaux", "Petits Carreaux", "Ligné", "Couleurs Assorties",
            "Spirale", "Pointe Fine",
        ),
        "specs": ("{K} Pages", "{K} Feuilles", "Lot De {n}", "Boîte De {k}", "{k} G", "{y}"),
        "templates": (
            "{noun} {attr} {spec}", "{brand} {noun} {attr}", "{noun} {brand} {spec}",
            "{noun} {attr} {gen}", "{spec} {noun} {attr}",
        ),
        "sentences": (
            "Cahier de {K} pages, papier {k} g.", "Idéal pour l'école, le bureau ou la maison.",
            "Lot de {n} stylos à encre gel.", "Cartouche compatible avec les imprimantes {brand}.",
            "Couverture rigide et élastique de fermeture.", "Fournitures scolaires de qualité.",
        ),
        "foreign": ("Notebook", "Kugelschreiber", "Ink Cartridge", "Schreibblock"),
    },
}

# Shared pools inside a group of confusable categories: words every member uses.
GROUPS: dict[str, Pools] = {
    "books": {
        "nouns": (
            "Livre", "Roman", "Bd", "Bande Dessinée", "Revue", "Magazine", "Manga",
            "Encyclopédie", "Dictionnaire", "Album", "Recueil", "Guide",
        ),
        "attrs": ("Broché", "Poche", "Illustré", "Édition", "Collection", "Français", "Auteur"),
        "sentences": (
            "Livre en bon état général.", "Pages propres et bien reliées.", "Ouvrage en français.",
            "Idéal pour les amateurs de lecture.", "Quelques traces d'usage sur la couverture.",
            "Collection {attr}.", "Édition {attr}, {noun} complet.",
        ),
    },
    "games": {
        "nouns": ("Jeu Vidéo", "Jeux", "Console", "Manette", "Jeu", "Cartouche", "Pack"),
        "attrs": (
            "PS4", "Xbox One", "Switch", "Nintendo", "PlayStation", "Wii", "Pal",
            "Édition Collector",
        ),
        "sentences": (
            "Jeu vidéo compatible {attr}.", "Idéal pour les gamers.",
            "Profitez de vos jeux préférés.", "Produit testé et fonctionnel.",
            "Expérience de jeu immersive.",
        ),
    },
    "toys": {
        "nouns": ("Jouet", "Jeu", "Figurine", "Coffret", "Set", "Kit", "Cadeau", "Collection"),
        "attrs": (
            "Enfant", "Enfants", "Garçon", "Fille", "Dès 3 Ans", "Jeu", "Cadeau Noël", "Fun",
        ),
        "sentences": (
            "Un cadeau idéal pour les enfants.", "Jouet conforme aux normes CE.",
            "Amusement garanti pour petits et grands.",
            "Fabriqué dans des matériaux de qualité.", "Convient aux enfants dès {n} ans.",
        ),
    },
    "baby": {
        "nouns": ("Article Bébé", "Accessoire Bébé", "Coffret Naissance", "Cadeau Naissance"),
        "attrs": ("Bébé", "Nouveau-Né", "Fille", "Garçon", "Coton", "Doux", "Naissance", "Rose"),
        "sentences": (
            "Idéal pour bébé.", "Douceur et confort pour votre tout-petit.",
            "Un cadeau de naissance apprécié.", "Matières douces adaptées à la peau de bébé.",
        ),
    },
    "home": {
        "nouns": ("Meuble", "Décoration", "Coussin", "Tapis", "Rangement", "Lampe", "Panier"),
        "attrs": (
            "Maison", "Salon", "Chambre", "Intérieur", "Design", "Bois", "Moderne", "Scandinave",
        ),
        "sentences": (
            "Idéal pour la maison.", "S'intègre parfaitement dans tous les intérieurs.",
            "Design moderne et épuré.", "Dimensions : {a} x {b} cm.", "Coloris : {gen}.",
        ),
    },
    "garden": {
        "nouns": ("Kit", "Accessoire", "Bâche", "Abri", "Housse De Protection", "Set"),
        "attrs": (
            "Jardin", "Extérieur", "Terrasse", "Été", "Résistant", "Anti-Uv", "Gris Anthracite",
            "Pvc", "Acier Galvanisé",
        ),
        "sentences": (
            "Idéal pour votre jardin.", "Résiste aux intempéries.",
            "Profitez pleinement de l'été.", "Matériaux robustes pour un usage extérieur.",
            "Installation facile et rapide.",
        ),
    },
    "food": {
        "nouns": ("Coffret", "Boîte", "Paquet", "Sachet", "Pot"),
        "attrs": ("Saveur", "Goût", "Naturel", "Gourmet", "Fait Maison", "Cadeau"),
        "sentences": ("Un délice pour les papilles.", "Idéal à offrir.", "Goût authentique."),
    },
    "pets": {
        "nouns": ("Accessoire", "Coussin", "Jouet", "Panier", "Tapis"),
        "attrs": ("Lavable", "Réglable", "Confort", "Doux", "Résistant"),
        "sentences": ("Lavable en machine.", "Confortable et résistant.", "Facile à nettoyer."),
    },
    "office": {
        "nouns": ("Carnet", "Papier", "Bloc", "Pochette", "Kit", "Boîte"),
        "attrs": ("Bureau", "École", "Couleur", "Format A4", "Rentrée Scolaire"),
        "sentences": ("Pour l'école et le bureau.", "Format pratique.", "Papier de qualité."),
    },
}

CATEGORY_GROUP: dict[int, str] = {
    10: "books", 2705: "books", 2403: "books", 2280: "books",
    40: "games", 2905: "games", 2462: "games", 60: "games", 50: "games",
    1280: "toys", 1281: "toys", 1302: "toys", 1180: "toys", 1140: "toys", 1160: "toys",
    1300: "toys",
    1320: "baby", 1301: "baby",
    1560: "home", 2060: "home", 1920: "home",
    2582: "garden", 2583: "garden", 2585: "garden",
    1940: "food", 2220: "pets", 2522: "office",
}

# Whose own vocabulary leaks into a category's rows (and whose label noisy rows carry).
NEIGHBOURS: dict[int, tuple[int, ...]] = {
    10: (2705, 2403, 2280),
    2705: (10, 2403, 2522),
    2403: (10, 2280, 2705),
    2280: (2403, 10),
    40: (2905, 2462, 60),
    2905: (40, 2462),
    2462: (40, 60, 50),
    60: (2462, 50, 40),
    50: (60, 2462),
    1280: (1281, 1302, 1140, 1300, 1320),
    1281: (1280, 1180, 1160),
    1302: (1280, 2583, 2582),
    1180: (1281, 1140, 1160),
    1140: (1180, 1280, 1160),
    1160: (1140, 1281, 1180),
    1300: (1280, 1302),
    1320: (1301, 1280, 1920),
    1301: (1320, 1281),
    1560: (2582, 2060, 1920),
    2582: (1560, 2583, 2585),
    2060: (1560, 1920, 2522),
    1920: (2060, 1560, 1320),
    2583: (2585, 2582, 1302),
    2585: (2583, 2582),
    1940: (2060, 2220),
    2220: (1920, 2585, 1940),
    2522: (2060, 2705, 1280),
}

# Share of empty descriptions per category (the real data leaves used books bare, PC games not).
EMPTY_DESCRIPTION: dict[int, float] = {
    10: 0.75, 2705: 0.15, 2403: 0.45, 2280: 0.6, 40: 0.45, 2905: 0.02, 2462: 0.35, 60: 0.3,
    50: 0.25, 1280: 0.3, 1281: 0.4, 1302: 0.2, 1180: 0.45, 1140: 0.4, 1160: 0.6, 1300: 0.2,
    1320: 0.25, 1301: 0.25, 1560: 0.3, 2582: 0.25, 2060: 0.3, 1920: 0.3, 2583: 0.35,
    2585: 0.25, 1940: 0.45, 2220: 0.3, 2522: 0.35,
}

# Extra difficulty per category (0 = default): more vague rows, like the real weak classes.
HARDNESS: dict[int, float] = {
    10: 1.0, 2705: 0.8, 2403: 0.6, 1281: 0.9, 1280: 0.6, 1180: 0.7, 40: 0.8, 2462: 0.6,
    1301: 0.3, 60: 0.3, 50: 0.3, 1302: 0.4, 2060: 0.5, 1560: 0.3, 1920: 0.3, 2582: 0.4,
    2585: 0.3, 1320: 0.3, 1140: 0.4, 1160: 0.2, 2522: 0.3, 2220: 0.2,
}

GENERIC: Pools = {
    "nouns": (
        "Article", "Produit", "Lot", "Ensemble", "Coffret", "Kit", "Set", "Accessoire", "Modèle",
        "Pack",
    ),
    "brands": ("Générique", "Sans Marque", "Import", "Marque Française", "Qualité Pro"),
    "attrs": (
        "Noir", "Blanc", "Rouge", "Bleu", "Vert", "Gris", "Rose", "Jaune", "Beige", "Marron",
        "Neuf", "Occasion", "Très Bon État", "Bon État", "Comme Neuf", "Pas Cher", "Promo",
        "Qualité Supérieure", "Original", "Haute Qualité", "Métal", "Plastique", "Nouveau",
        "Édition Limitée", "Grande Taille", "Petit Modèle", "Xxl", "Vintage", "Rare",
    ),
    "specs": ("Lot De {n}", "{n} Pièces", "Pack De {n}", "{k} Cm", "Taille Unique", "X{n}"),
    "templates": (
        "{noun} {gen}", "{gen} {noun} {spec}", "{noun} {spec} {gen}", "{brand} {noun}",
        "{noun}", "{noun} {gen} {gen}",
    ),
    "sentences": (
        "Livraison rapide et soignée.", "Expédié sous 48h.", "Produit neuf.",
        "Article en très bon état.", "N'hésitez pas à me contacter pour plus d'informations.",
        "Voir photos.", "Envoi en colissimo suivi.", "Satisfait ou remboursé.",
        "Photo non contractuelle.", "Retrouvez toutes nos offres dans notre boutique !",
        "Couleur : {gen}.", "Très bon rapport qualité/prix.", "Vendu tel que sur la photo.",
        "Garantie {n} ans.", "Caractéristiques :", "Descriptif du produit :",
        "Matière : {gen}.", "Quantité : {n}.", "Marque : {brand}.", "Neuf & emballé.",
    ),
}

FOREIGN_TEMPLATES: tuple[str, ...] = (
    "{fnoun} {brand} {fextra}", "{brand} {fnoun} {spec}", "{fnoun} {fextra}",
    "{fnoun} {spec} {fextra}",
)
FOREIGN_EXTRAS: tuple[str, ...] = (
    "for Kids", "with Box", "New Sealed", "and Accessories", "Set of 3", "für Kinder",
    "mit Zubehör", "und Tasche", "Neu OVP", "Brand New", "with Remote Control", "for Adults",
    "für Erwachsene", "with Gift Box", "mit Etikett", "for Home",
)

MONTHS: tuple[str, ...] = (
    "Janvier", "Février", "Mars", "Avril", "Mai", "Juin", "Juillet", "Août", "Septembre",
    "Octobre", "Novembre", "Décembre",
)
DIMENSIONS: tuple[int, ...] = (20, 30, 40, 45, 50, 60, 70, 80, 90, 100, 120, 140, 160, 180, 200)
